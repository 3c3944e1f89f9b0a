// Child process for publisher-sigkill.test.ts: appends a round of readings every 2 ms and drains
// the outbox to the broker, printing its publisher's counters as JSON lines, until SIGKILLed; or,
// given a duration, appends for that long, drains, stops and prints each meter's last seq.
import { startPublisher } from '../../adapters/mqtt/publisher.ts';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { testLogger } from '../helpers/logger.ts';
import { readingItem } from '../helpers/readings.ts';

const [url, path, meterList, appendMsArg] = process.argv.slice(2);
if (!url || !path || !meterList)
  throw new Error('usage: publisher-appending-child.ts <url> <outbox> <meters> [append ms]');
const meters = meterList.split(',');
const outbox = Outbox.open({ path, maxBytes: 1_000_000_000 });
const publisher = startPublisher({
  url,
  clientId: 'gw1',
  outbox,
  statusTopic: 'campus/v1/test/gw1/status',
  willPayload: JSON.stringify({ gateway: 'gw1', state: 'offline', ts: 0 }),
  replayRatePerSec: 100_000,
  logger: testLogger(),
});
const appender = setInterval(() => outbox.append(meters.map((m) => readingItem(m))), 2);
const reporter = setInterval(() => console.log(JSON.stringify(publisher.stats())), 10);
if (appendMsArg) {
  setTimeout(async () => {
    clearInterval(appender);
    const drained = await publisher.drained(30_000);
    clearInterval(reporter);
    await publisher.stop();
    console.log(JSON.stringify({ drained, highWater: outbox.highWater() }));
    outbox.close();
  }, Number(appendMsArg));
}
