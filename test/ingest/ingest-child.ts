// Child process for sigkill.test.ts: ingest into a SqliteStore until it is SIGKILLed.
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { SqliteDeadLetterStore } from '../../services/metering/ingest/dead-letters.ts';
import { startIngest } from '../../services/metering/ingest/ingest.ts';
import { testLogger } from '../helpers/logger.ts';
import { registry } from './support.ts';

const [url, clientId, storePath, deadPath, meters] = process.argv.slice(2);
if (!url || !clientId || !storePath || !deadPath || !meters)
  throw new Error('usage: ingest-child.ts <url> <clientId> <store> <dead letters> <meters>');
const store = SqliteStore.open({ path: storePath });
const ingest = startIngest({
  url,
  clientId,
  meters: registry(Number(meters)),
  writer: store,
  deadLetters: SqliteDeadLetterStore.open({ path: deadPath }),
  logger: testLogger(),
});
await ingest.ready;
process.stdout.write('ready\n');
setInterval(() => process.stdout.write(`${JSON.stringify(ingest.stats())}\n`), 200);
