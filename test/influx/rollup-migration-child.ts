/**
 * Opens an InfluxStore on a database of the old roll-up definition at a fixed clock and waits for
 * its recomputation, logging each day on stdout (pino, JSON lines): the process
 * test/influx/rollup-migration.test.ts kills midway.
 *
 *   node --import tsx test/influx/rollup-migration-child.ts <url> <database> <clock ms>
 */
import { pino } from 'pino';
import { InfluxStore } from '../../adapters/influx/store.ts';

const [url, database, clock] = process.argv.slice(2);
const store = await InfluxStore.open({
  url: url!,
  database: database!,
  dailyUtcOffsetMinutes: 480,
  clock: () => Number(clock),
  logger: pino({ level: 'info' }),
});
process.stdout.write('started\n');
await store.rollupsSettled();
await store.close();
process.stdout.write('done\n');
