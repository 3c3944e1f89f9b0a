/**
 * Opens a reading store and moves its closed days into chunks one chunk at a time, saying so on
 * stdout, until none is left: the process test/storage/sqlite-migration-kill.test.ts kills midway.
 *
 *   node --import tsx test/storage/compact-child.ts <store file>
 */
import { SqliteStore } from '../../adapters/sqlite/store.ts';

const store = SqliteStore.open({ path: process.argv[2]! });
process.stdout.write('started\n');
let result = store.compact(1);
while (result.pendingMeters > 0) {
  process.stdout.write(`moved ${result.readings}\n`);
  result = store.compact(1);
}
await store.close();
process.stdout.write('done\n');
