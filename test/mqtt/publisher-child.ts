// Child process for embedded-broker.test.ts: drains an outbox to the broker until it is SIGKILLed.
import { startPublisher } from '../../adapters/mqtt/publisher.ts';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { testLogger } from '../helpers/logger.ts';

const [url, path, statusTopic, willPayload] = process.argv.slice(2);
if (!url || !path || !statusTopic || !willPayload)
  throw new Error('usage: publisher-child.ts <url> <outbox> <status topic> <will>');
const outbox = Outbox.open({ path, maxBytes: 1_000_000_000 });
startPublisher({
  url,
  clientId: 'gw1',
  outbox,
  statusTopic,
  willPayload,
  replayRatePerSec: 1000,
  logger: testLogger(),
});
