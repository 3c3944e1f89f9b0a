/**
 * A back office that makes one bill run on a thread of its own and is then killed by the test
 * (bill-run-crash.test.ts): the campus folder is argv[2]; "asked" is written to stdout when the run
 * is asked, "recorded <id>" when it is.
 */
import { join } from 'node:path';
import { loadCampus } from '../../config/campus.ts';
import { BillRuns } from '../../services/money/billing/bill-run.ts';
import { runBillRunInThread } from '../../services/money/billing/bill-run-job.ts';
import { openStore } from '../../services/metering/open-store.ts';
import { campusVee } from '../../services/metering/vee/campus.ts';
import { openAuditLog } from '../../services/platform/audit/audit-log.ts';
import { auditKeyPath, backofficePath } from '../../services/platform/audit/paths.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { accounts, NOW, period, silent, tariffs, TZ } from '../billing/thread-campus.ts';

const campus = loadCampus(join(process.argv[2]!, 'campus.yaml'));
const store = await openStore(campus, silent);
const db = openBackofficeDb(backofficePath(campus));
const clock = () => NOW;
const audit = openAuditLog(db, clock, auditKeyPath(campus));
const runs = new BillRuns({
  db,
  audit,
  tariffs,
  source: campusVee({ campus, store, db, audit, clock }),
  timezone: TZ,
  clock,
  offload: (actor, input, table) =>
    runBillRunInThread({ campus, actor, ...input, tariffs: table, now: clock() }),
});
process.stdout.write('asked\n');
const run = await runs.run({ id: 'fin.zhang', kind: 'user', roles: ['billing'] }, { period, accounts });
process.stdout.write(`recorded ${run.id}\n`);
db.close();
await store.close();
