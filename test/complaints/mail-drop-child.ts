import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { Complaints } from '../../services/inspection/complaints/cases.ts';
import { MailDrop } from '../../services/inspection/complaints/mail-drop.ts';

/**
 * A back office that only reads the tip mailbox, for the crash test: it kills itself with SIGKILL
 * (no clean-up, no flush, as a power cut or the OOM killer would) right after the case of message
 * KILL_AFTER is committed, before its file is moved; prints the scan's result otherwise.
 */
const clock = () => Date.UTC(2026, 10, 1);
const db = openBackofficeDb(process.env.DB!);
const audit = new AuditLog(db, clock);
const complaints = new Complaints({
  ...{ db, audit, clock, timezone: 'Asia/Shanghai' },
  ...{ staff: () => null, alert: () => null, accountExists: () => false, meterExists: () => false },
});
const mail = new MailDrop({
  ...{ db, audit, complaints, clock, dir: process.env.MAILDIR!, maxMessageBytes: 1_000_000 },
  afterRecord: (file) => {
    if (file === process.env.KILL_AFTER) process.kill(process.pid, 'SIGKILL');
  },
});
process.stdout.write(JSON.stringify(await mail.scan()));
