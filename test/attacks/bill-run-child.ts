/**
 * A back office that makes one bill run on a thread of its own and is then killed by the test
 * (bill-run-crash.test.ts): the campus folder is argv[2]; "asked" is written to stdout when the run
 * is asked, "recorded <id>" when it is.
 */
import { accounts, billRunsOn, period } from '../billing/thread-campus.ts';

const { runs, close } = await billRunsOn(process.argv[2]!, true);
process.stdout.write('asked\n');
const run = await runs.run({ id: 'fin.zhang', kind: 'user', roles: ['billing'] }, { period, accounts });
process.stdout.write(`recorded ${run.id}\n`);
await close();
