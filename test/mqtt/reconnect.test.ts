import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RECONNECT, reconnectDelay } from '../../adapters/mqtt/reconnect.ts';
import { startPublisher } from '../../adapters/mqtt/publisher.ts';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { testLogger } from '../helpers/logger.ts';
import { startMosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/readings.ts';

/**
 * Issue 26 item 4: the gateway came back 11 s after mosquitto did (a doubling delay up to 30 s),
 * so readings arrived up to 31 s late. Now the delay is capped at 1.5 s with jitter.
 */
describe('reconnect delays', () => {
  it('double from the base, never pass the cap, and stay in the upper half of each step', () => {
    const p = DEFAULT_RECONNECT;
    const low = Array.from({ length: 12 }, (_, i) => reconnectDelay(p, i + 1, 0));
    const high = Array.from({ length: 12 }, (_, i) => reconnectDelay(p, i + 1, 0.999999));
    expect(low.slice(0, 4)).toEqual([100, 200, 400, 750]);
    expect(high.slice(0, 4)).toEqual([200, 400, 800, 1500]);
    expect(Math.max(...high)).toBe(p.capMs);
    expect(p.capMs).toBeLessThan(2000);
  });
});

describe('the gateway publisher and a broker that was away', () => {
  it('is connected again within 2 s of mosquitto being back, after a long outage', async () => {
    const mosquitto = await startMosquitto();
    const dir = mkdtempSync(join(tmpdir(), 'reconnect-'));
    const outbox = Outbox.open({ path: join(dir, 'outbox.sqlite'), maxBytes: 10_000_000 });
    const publisher = startPublisher({
      url: mosquitto.url,
      clientId: 'gw1',
      outbox,
      statusTopic: 'campus/v1/test/gw1/status',
      willPayload: JSON.stringify({ gateway: 'gw1', state: 'offline', ts: 0 }),
      logger: testLogger(),
    });
    try {
      await waitFor(() => publisher.stats().connected, 5000, 'first connection');
      await mosquitto.stop();
      // Long enough for the delay to reach its cap (the old doubling had reached 16 s by then).
      await waitFor(() => publisher.stats().connectFailures >= 8, 20_000, 'eight failed attempts');
      await mosquitto.restart();
      const back = performance.now();
      await waitFor(() => publisher.stats().connected, 5000, 'reconnection');
      expect(performance.now() - back).toBeLessThan(2000);
    } finally {
      await publisher.stop();
      outbox.close();
      await mosquitto.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
