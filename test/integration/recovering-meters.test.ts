import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { subscribeReadings, type ReadingSubscription } from '../../adapters/mqtt/subscriber.ts';
import { startGateway, type RunningGateway } from '../../gateway/gateway.ts';
import { silentLogger } from '../../gateway/log.ts';
import { startField, type Field } from '../helpers/field.ts';
import { waitFor } from '../helpers/readings.ts';

/**
 * Issue 26 item 3 with real transports and simulated meters: four meters on a 1 s poll with a
 * 500 ms timeout, frozen 10 s and released. One of them used to stay BREAKER_OPEN for the rest of
 * the run (the probe waited for a whole free timeout that a busy line never had).
 */
describe.each(['modbus-tcp', 'rtu-over-tcp'] as const)('%s: meters that recover', (transport) => {
  let field: Field | undefined;
  let broker: EmbeddedBroker | undefined;
  let sub: ReadingSubscription | undefined;
  let gw: RunningGateway | undefined;
  afterEach(async () => {
    await gw?.stop();
    await sub?.close();
    await broker?.close();
    await field?.stop();
  });

  it('are all good again within 5 s of their release after 10 s frozen', async () => {
    field = await startField({
      concentrators: [{ transport, meters: 4 }],
      pollInterval: 1000,
      timeout: 500,
      breaker: { failures: 3, baseBackoff: 2_000, maxBackoff: 300_000 },
    });
    broker = await startEmbeddedBroker({ port: 0 });
    sub = await subscribeReadings({ url: broker.url, topic: 'campus/v1/+/+/+/reading' });
    gw = await startGateway({
      campus: field.campus,
      gatewayId: 'gw1',
      mqtt: { url: broker.url },
      logger: silentLogger(),
    });
    const ids = field.meterIds;
    await waitFor(
      () => ids.every((id) => sub!.readings.some((r) => r.meter === id && r.quality === 'good')),
      20_000,
      'every meter good',
    );
    for (const id of ids) field.farm.setFault(id, { type: 'timeout' });
    await new Promise((r) => setTimeout(r, 10_000));
    const frozenErrors = sub.readings.filter((r) => r.quality === 'error').length;
    expect(frozenErrors).toBeGreaterThan(0);
    for (const id of ids) field.farm.setFault(id, { type: 'none' });
    const released = Date.now();
    await waitFor(
      () =>
        ids.every((id) =>
          sub!.readings.some((r) => r.meter === id && r.quality === 'good' && r.ts >= released),
        ),
      5_000,
      'all four good again',
    );
    for (const id of ids) {
      const first = sub.readings.find((r) => r.meter === id && r.quality === 'good' && r.ts >= released)!;
      expect(first.ts - released, id).toBeLessThan(5_000);
    }
  }, 60_000);
});
