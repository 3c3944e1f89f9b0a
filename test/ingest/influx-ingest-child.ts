// One ingest instance into InfluxDB, for the benchmark's shared-subscription run
// (test/bench/ingest.bench.ts). Speaks JSON lines: prints {"ready":true} once its store is open;
// then "go" starts ingest, "stats" answers its counts and CPU time (µs) since "go", "stop" stops
// it and exits.
import { createInterface } from 'node:readline';
import { InfluxStore } from '../../adapters/influx/store.ts';
import { SqliteDeadLetterStore } from '../../services/metering/ingest/dead-letters.ts';
import { startIngest, type Ingest } from '../../services/metering/ingest/ingest.ts';
import { testLogger } from '../helpers/logger.ts';
import { registry } from './support.ts';

const [url, clientId, shareGroup, influxUrl, database, deadPath, meters, batch] = process.argv.slice(2);
if (!url || !clientId || !shareGroup || !influxUrl || !database || !deadPath || !meters || !batch)
  throw new Error(
    'usage: influx-ingest-child.ts <mqtt url> <clientId> <share group> <influx url> <database> <dead letters> <meters> <batch>',
  );
const store = await InfluxStore.open({ url: influxUrl, database });
const deadLetters = SqliteDeadLetterStore.open({ path: deadPath });
let ingest: Ingest | undefined;
let cpu0 = process.cpuUsage();
const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
say({ ready: true });
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'go') {
    cpu0 = process.cpuUsage();
    ingest = startIngest({
      url,
      clientId,
      shareGroup,
      meters: registry(Number(meters)),
      writer: store,
      deadLetters,
      batchSize: Number(batch),
      logger: testLogger(),
    });
    await ingest.ready;
    say({ started: true });
  } else if (line === 'stats') {
    const cpu = process.cpuUsage(cpu0);
    const s = ingest?.stats();
    say({
      stored: s?.stored ?? 0,
      inFlight: s?.inFlight ?? 0,
      received: s?.received ?? 0,
      cpuUs: cpu.user + cpu.system,
    });
  } else if (line === 'stop') {
    await ingest?.stop();
    await store.close();
    deadLetters.close();
    process.exit(0);
  }
}
