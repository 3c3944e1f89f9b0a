import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dropDuplicates,
  subscribeReadings,
  type ReadingSubscription,
} from '../../adapters/mqtt/subscriber.ts';
import type { Reading } from '../../config/schemas/reading.ts';
import { startGateway, type RunningGateway } from '../../gateway/gateway.ts';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import { join } from 'node:path';
import { silentLogger } from '../../gateway/log.ts';
import { startField, valueMismatches, type Field } from '../helpers/field.ts';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { range, seqsByMeter, waitFor } from '../helpers/readings.ts';

/**
 * The gateway's end-to-end contract against real parts: a farm of 220 simulated meters of every
 * profile on four concentrators (two Modbus TCP, two RTU-over-TCP), a real mosquitto, and a
 * subscriber with a persistent session.
 */
describe('gateway → mosquitto, 220 meters on 4 concentrators', () => {
  let field: Field;
  let mosquitto: Mosquitto;
  let sub: ReadingSubscription;
  let gw: RunningGateway | undefined;
  const FROZEN = Date.UTC(2026, 0, 14, 10, 30);

  beforeAll(async () => {
    field = await startField({
      concentrators: [
        { transport: 'modbus-tcp', meters: 55 },
        { transport: 'modbus-tcp', meters: 55 },
        { transport: 'rtu-over-tcp', meters: 55 },
        { transport: 'rtu-over-tcp', meters: 55 },
      ],
      pollInterval: 1000,
      frozenAt: FROZEN,
    });
    mosquitto = await startMosquitto();
    sub = await subscribeReadings({
      url: mosquitto.url,
      topic: 'campus/v1/+/+/+/reading',
      clientId: 'it-subscriber',
      clean: false,
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await sub?.close();
    await mosquitto?.dispose();
    await field?.stop();
  });

  const bySeq = (readings: readonly Reading[]) => seqsByMeter(dropDuplicates(readings));

  it('delivers every reading with decoded values and gap-free sequence numbers', async () => {
    gw = await startGateway({
      campus: field.campus,
      gatewayId: 'gw1',
      mqtt: { url: mosquitto.url },
      logger: silentLogger(),
    });
    await waitFor(
      () => {
        const seqs = bySeq(sub.readings);
        return field.meterIds.every((id) => (seqs.get(id)?.length ?? 0) >= 3);
      },
      30_000,
      'three readings from every meter',
    );

    expect(sub.invalid).toEqual([]);
    const mismatches: string[] = [];
    for (const r of sub.readings) {
      expect(r.quality, `${r.meter}: ${r.error?.message}`).toBe('good');
      const sim = field.farm.meter(r.meter);
      mismatches.push(...valueMismatches(r, sim.values(), sim.profile));
      expect(r.ts).toBeGreaterThan(FROZEN);
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
    // The heat meter converter's readout time comes through as the device timestamp.
    const heat = sub.readings.find((r) => r.meter === field.meterIds[7]);
    expect(heat?.deviceTs).toBe(Math.floor(FROZEN / 1000) * 1000);

    for (const [meter, seqs] of bySeq(sub.readings)) {
      expect(seqs, meter).toEqual(range(1, seqs.length));
    }
  });

  it('loses nothing and keeps order when mosquitto is stopped for 20 s mid-run', async () => {
    const before = sub.readings.length;
    await mosquitto.stop();
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 20_000));
    // Readings kept coming from the meters and waited in the outbox.
    expect(gw!.outbox.stats().messages).toBeGreaterThan(220 * 15);
    expect(gw!.publisher.stats().connected).toBe(false);
    await mosquitto.restart();

    await waitFor(() => gw!.outbox.stats().messages < 300, 60_000, 'the outbox to drain');
    await gw!.stop();
    gw = undefined;
    // Every reading ever numbered by the gateway (seq 1 … next-1) must reach the subscriber.
    const reopened = Outbox.open({
      path: join(field.campus.dataDir, 'gw1-outbox.sqlite'),
      maxBytes: 1 << 30,
    });
    const numbered = new Map(field.meterIds.map((id) => [id, reopened.nextSeq(id) - 1]));
    expect(reopened.stats()).toMatchObject({ messages: 0, dropped: 0 });
    reopened.close();
    await waitFor(
      () => {
        const seqs = bySeq(sub.readings);
        return field.meterIds.every((id) => (seqs.get(id)?.length ?? 0) >= numbered.get(id)!);
      },
      30_000,
      'every numbered reading to arrive',
    );
    expect(sub.readings.length).toBeGreaterThan(before + 220 * 20);

    // dropDuplicates drops a seq that arrives after a higher one, so a complete 1…n per meter
    // proves both that nothing was lost and that order was kept across the outage.
    const seqs = bySeq(sub.readings);
    for (const id of field.meterIds) {
      expect(seqs.get(id), id).toEqual(range(1, numbered.get(id)!));
    }
    // Polls went on through the outage: each meter has readings timestamped inside it.
    const during = sub.readings.filter((r) => r.ts > stoppedAt + 1000 && r.ts < stoppedAt + 19_000);
    expect(new Set(during.map((r) => r.meter)).size).toBe(220);
  }, 150_000);
});
