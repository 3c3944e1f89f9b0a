import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb } from '../../platform/db.ts';
import type { Complaints } from './cases.ts';
import { readMessage, type ReadMessage } from './mail-message.ts';

/**
 * The tip mailbox as a Maildir, the way postfix or dovecot deliver it: the MTA writes a message
 * into `tmp/` and renames it into `new/` when complete, so a file in `new/` is whole. Taking a
 * message is: read it, record its case together with the file's name and the message's SHA-256
 * in one transaction, then rename it into `cur/` with the Seen flag (`:2,S`), as a mail reader
 * would. A crash before the transaction leaves the message in `new/` to be taken at the next scan;
 * a crash after it leaves it in `new/` too, but its name is recorded, so the next scan only moves
 * it. A message delivered twice (the same bytes under another name) is recorded as a duplicate of
 * the first case, not as a second case. Nothing is deleted: every file stays in `cur/`.
 */

export const MAIL_DROP_ACTOR = 'system:mail-drop';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS complaint_mail (
  file TEXT PRIMARY KEY,
  sha256 TEXT NOT NULL,
  case_id INTEGER NOT NULL REFERENCES complaint_cases(id),
  taken_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS complaint_mail_sha ON complaint_mail (sha256);
CREATE TABLE IF NOT EXISTS complaint_mail_raw (
  sha256 TEXT PRIMARY KEY,
  raw BLOB NOT NULL
);
`;

export interface MailDropDeps {
  db: BackofficeDb;
  audit: AuditLog;
  complaints: Complaints;
  /** The Maildir (holding new/, cur/, tmp/). */
  dir: string;
  /** Larger messages are recorded flagged, without their bytes in the database (the file stays in cur/). */
  maxMessageBytes: number;
  clock: () => number;
  /** Called after a message's case is committed and before its file is moved (tests crash here). */
  afterRecord?: (file: string) => void;
}

export interface ScanResult {
  taken: number;
  flagged: number;
  duplicates: number;
  /** Recorded before a crash, only moved now. */
  moved: number;
}

export class MailDrop {
  private scanning: Promise<ScanResult> | null = null;

  constructor(private readonly d: MailDropDeps) {
    d.db.exec(SCHEMA);
    for (const sub of ['new', 'cur', 'tmp']) mkdirSync(join(d.dir, sub), { recursive: true });
  }

  /** Takes every message in new/; a scan asked for while one runs waits for it instead of racing it. */
  scan(): Promise<ScanResult> {
    this.scanning ??= this.scanOnce().finally(() => (this.scanning = null));
    return this.scanning;
  }

  /** Resolves when no scan is running (for shutdown: the database must outlive the scan using it). */
  async idle(): Promise<void> {
    await this.scanning?.catch(() => undefined);
  }

  /** The raw bytes of an email case's message (for the complaints staff: its headers name the sender). */
  raw(caseId: number): Buffer | null {
    const r = this.d.db
      .prepare(
        'SELECT r.raw FROM complaint_mail m JOIN complaint_mail_raw r ON r.sha256 = m.sha256 WHERE m.case_id = ? LIMIT 1',
      )
      .get(caseId) as { raw: Buffer } | undefined;
    return r?.raw ?? null;
  }

  private async scanOnce(): Promise<ScanResult> {
    const result: ScanResult = { taken: 0, flagged: 0, duplicates: 0, moved: 0 };
    const names = readdirSync(join(this.d.dir, 'new'))
      .filter((n) => !n.startsWith('.'))
      .sort();
    for (const name of names) await this.take(name, result);
    return result;
  }

  private async take(name: string, result: ScanResult): Promise<void> {
    const path = join(this.d.dir, 'new', name);
    const size = statOrNull(path);
    if (size === null) return; // taken by another reader of the folder meanwhile
    const known = this.d.db.prepare('SELECT case_id FROM complaint_mail WHERE file = ?').get(name);
    if (known) {
      this.moveToCur(name);
      result.moved++;
      return;
    }
    const raw = size > this.d.maxMessageBytes ? null : readFileSync(path);
    const sha256 = raw ? createHash('sha256').update(raw).digest('hex') : `too-large:${name}`; // not hashed: never read into memory
    const first = this.d.db
      .prepare('SELECT case_id FROM complaint_mail WHERE sha256 = ? LIMIT 1')
      .get(sha256) as { case_id: number } | undefined;
    if (first) this.recordDuplicate(name, sha256, first.case_id);
    else if (await this.recordCase(name, sha256, raw, size)) result.flagged++;
    if (first) result.duplicates++;
    else result.taken++;
    this.d.afterRecord?.(name);
    this.moveToCur(name);
  }

  /** Returns whether the case was flagged. */
  private async recordCase(name: string, sha256: string, raw: Buffer | null, size: number): Promise<boolean> {
    const m: ReadMessage = raw
      ? await readMessage(raw)
      : {
          ...{ subject: null, text: '', messageId: null, date: null, from: null, attachments: [] },
          flag: `larger than ${this.d.maxMessageBytes} bytes (${size}); the file is kept in cur/`,
        };
    const flag = m.flag;
    const now = this.d.clock();
    const attachments = m.attachments.length
      ? `\n\n[attachments: ${m.attachments.map((a) => `${a.name} (${a.size} bytes)`).join(', ')}]`
      : '';
    this.d.complaints.create(
      MAIL_DROP_ACTOR,
      {
        kind: 'tip',
        channel: 'email',
        // When it was taken from the mailbox: a sender's Date header may say anything.
        receivedAt: now,
        summary: (m.subject ?? (flag ? '(unreadable message)' : '(no subject)')).slice(0, 300),
        details: m.text + attachments,
        // Protect first: the staff lift anonymity only if the tipster agrees.
        anonymous: true,
        tipster: m.from,
        flag,
        mail: { file: name, sha256, messageId: m.messageId, subject: m.subject },
      },
      (caseId) => {
        if (raw)
          this.d.db
            .prepare('INSERT OR IGNORE INTO complaint_mail_raw (sha256, raw) VALUES (?, ?)')
            .run(sha256, raw);
        this.d.db
          .prepare('INSERT INTO complaint_mail (file, sha256, case_id, taken_at) VALUES (?, ?, ?, ?)')
          .run(name, sha256, caseId, now);
      },
    );
    return flag !== null;
  }

  private recordDuplicate(name: string, sha256: string, caseId: number): void {
    const number = (
      this.d.db.prepare('SELECT number FROM complaint_cases WHERE id = ?').get(caseId) as { number: string }
    ).number;
    this.d.db.transaction(() => {
      this.d.db
        .prepare('INSERT INTO complaint_mail (file, sha256, case_id, taken_at) VALUES (?, ?, ?, ?)')
        .run(name, sha256, caseId, this.d.clock());
      this.d.audit.append({
        actor: MAIL_DROP_ACTOR,
        action: 'complaint.mail-duplicate',
        subject: `complaint:${number}`,
        after: { file: name, sha256 },
      });
    })();
  }

  private moveToCur(name: string): void {
    const target = name.includes(':2,') ? (name.endsWith('S') ? name : `${name}S`) : `${name}:2,S`;
    renameSync(join(this.d.dir, 'new', name), join(this.d.dir, 'cur', target));
  }
}

function statOrNull(path: string): number | null {
  try {
    return statSync(path).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
