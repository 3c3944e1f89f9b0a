// Child process for crash.test.ts: appends to the outbox as fast as it can and, after each
// committed append, prints the last seq of every meter. The test SIGKILLs it at a random moment.
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { readingItem } from '../helpers/readings.ts';

const path = process.argv[2];
if (!path) throw new Error('usage: crash-writer.ts <outbox path>');
const outbox = Outbox.open({ path, maxBytes: 1_000_000_000 });
const meters = ['m1', 'm2', 'm3', 'm4'];
const last: Record<string, number> = {};
let batch = 0;

function step(): void {
  for (let i = 0; i < 20; i++) {
    batch += 1;
    const size = 1 + (batch % 17);
    const items = Array.from({ length: size }, (_, j) =>
      readingItem(meters[(batch + j) % meters.length] ?? 'm1'),
    );
    for (const reading of outbox.append(items)) last[reading.meter] = reading.seq;
    process.stdout.write(`${JSON.stringify(last)}\n`);
  }
  setImmediate(step);
}
step();
