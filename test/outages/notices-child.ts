import { join } from 'node:path';
import { validateCampus } from '../../config/campus.ts';
import { OutagesSettingsSchema } from '../../config/schemas/operations-desk.ts';
import { campusTree } from '../../services/metering/live/tree.ts';
import { emailNotifier } from '../../services/money/notices/email.ts';
import { openAuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { OutageNotices } from '../../services/operations/outages/outage-notices.ts';
import { PlannedOutages } from '../../services/operations/outages/outages.ts';
import { demoCampus } from '../../simulators/campus/demo-campus.ts';

/**
 * One back-office process for notices-crash.test.ts, over the database in `dir`: with `approve`,
 * plans and approves an outage on Dorm E1 and sends its notices by email (killed by the test
 * while the first mail waits for the server's answer); without, only starts and sends what is due.
 * Prints "sent" when a round is over.
 */

const [dir, port, approve] = process.argv.slice(2) as [string, string, string | undefined];
const T0 = Date.UTC(2026, 11, 1, 0, 0);
const HOUR = 3_600_000;
const clock = () => T0;
const ports = Array.from({ length: 20 }, (_, i) => 20_000 + i);
const campus = validateCampus(demoCampus({ ports, dataDir: dir, roomsPerFloorLine: 2 }), {
  file: '(demo)',
  dir,
});
const db = openBackofficeDb(join(dir, 'backoffice.db'));
const audit = openAuditLog(db, clock, join(dir, 'audit-key.json'));
const outages = new PlannedOutages({
  ...{ db, audit, clock, tree: campusTree(campus) },
  settings: OutagesSettingsSchema.parse({}),
  accounts: () => new Map([['E-E1-101', ['PRE-E1-101']]]),
});
const CONTACTS: Record<string, { email: string; language: 'zh' | 'en' }[]> = {
  'PRE-E1-101': [
    { email: 'a@students.example.edu', language: 'zh' },
    { email: 'b@students.example.edu', language: 'en' },
    { email: 'c@students.example.edu', language: 'zh' },
  ],
};
const notices = new OutageNotices({
  ...{ db, outages, timezone: 'Asia/Shanghai', clock },
  channels: [
    emailNotifier({ host: '127.0.0.1', port: Number(port), secure: false, from: 'energy@example.edu' }),
  ],
  contacts: (a) => CONTACTS[a] ?? [],
});
if (approve) {
  const o = outages.plan(
    { id: 'op.zhao', kind: 'user', roles: ['operator'] },
    {
      utility: 'electricity',
      node: 'E-E1-MAIN',
      reason: 'Busbar',
      startsAt: T0 + 48 * HOUR,
      endsAt: T0 + 52 * HOUR,
    },
  );
  outages.approve({ id: 'sup.li', kind: 'user', roles: ['supervisor'] }, o.id);
}
await notices.kick();
process.stdout.write('sent\n');
await notices.close();
db.close();
process.exit(0);
