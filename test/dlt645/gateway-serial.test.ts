import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dlt645Profile } from '../../adapters/dlt645/profile.ts';
import { startEmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { subscribeReadings, type ReadingSubscription } from '../../adapters/mqtt/subscriber.ts';
import { validateCampus } from '../../config/campus.ts';
import { loadFieldProfiles } from '../../config/field-profiles.ts';
import { startGateway, type RunningGateway } from '../../gateway/gateway.ts';
import { silentLogger } from '../../gateway/log.ts';
import { startDlt645Line } from '../../simulators/dlt645/bus.ts';
import type { LineServer } from '../../simulators/dlt645/line-server.ts';
import { Dlt645SimMeter } from '../../simulators/dlt645/meter.ts';
import { Cjt188SimMeter, startCjt188Line } from '../../simulators/cjt188/meter.ts';
import type { Cjt188Profile } from '../../adapters/cjt188/profile.ts';
import { waitFor } from '../helpers/readings.ts';
import { socatAvailable, startPtyPair } from '../helpers/socat.ts';

const hasSocat = socatAvailable();

/**
 * The gateway polls DL/T 645 meters on a real pseudo-terminal pair at 2400 baud, 8E1, through
 * the same bus scheduler, breaker and outbox as Modbus: answers are paced at 2400 baud by the
 * simulated line, one meter is silent and must not hold up the others.
 */
describe.skipIf(!hasSocat)('DL/T 645 and CJ/T 188 over serial lines at 2400 8E1 (socat)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'campus-dlt645-'));
  const meterEnd = join(dir, 'ttyMeters');
  const gatewayEnd = join(dir, 'ttyGateway');
  const FROZEN = Date.UTC(2026, 10, 27, 12, 0);
  const profile = loadFieldProfiles().get('dlt645-single-phase-prepaid') as Dlt645Profile;
  const meters = ['000000000101', '000000000102', '000000000103'].map(
    (address, i) =>
      new Dlt645SimMeter({
        id: `D${i + 1}`,
        address,
        profile,
        load: 'dorm-room',
        seed: 20 + i,
        clock: () => FROZEN,
      }),
  );
  let socat: { close(): void };
  let line: LineServer;
  let broker: Awaited<ReturnType<typeof startEmbeddedBroker>>;
  let sub: ReadingSubscription;
  let gw: RunningGateway | undefined;

  beforeAll(async () => {
    for (const m of meters) m.physics.setClockSkew(Date.now() - FROZEN); // meter clocks show real time
    meters[2]!.setFault({ type: 'silence' });
    socat = await startPtyPair(meterEnd, gatewayEnd);
    line = await startDlt645Line({
      transport: { kind: 'serial', path: meterEnd, baudRate: 2400, parity: 'even' },
      meters,
      baudRate: 2400,
      latencyMs: 20,
    });
    broker = await startEmbeddedBroker({ port: 0 });
    sub = await subscribeReadings({ url: broker.url, topic: 'campus/v1/+/+/+/reading' });
  });

  afterAll(async () => {
    await gw?.stop();
    await sub?.close();
    await broker?.close();
    await line?.close();
    socat?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads every healthy meter with decoded values; the silent one times out, then its breaker opens', async () => {
    const campus = validateCampus(
      {
        campus: { name: 'DL/T 645 test' },
        dataDir: dir,
        sites: [
          {
            id: 'test',
            gateways: [
              {
                id: 'gw1',
                buses: [
                  {
                    id: 'dorm-485',
                    type: 'modbus-rtu',
                    protocol: 'dlt645',
                    path: gatewayEnd,
                    baudRate: 2400,
                    parity: 'even',
                    timeout: '1500ms',
                    resyncDelay: '100ms',
                    meters: meters.map((m, i) => ({
                      id: m.id,
                      kind: 'electricity',
                      profile: 'dlt645-single-phase-prepaid',
                      unitId: i + 1,
                      address: m.address,
                      pollInterval: '6s',
                    })),
                  },
                ],
              },
            ],
          },
        ],
      },
      { file: '(dlt645 test)', dir },
    );
    gw = await startGateway({ campus, gatewayId: 'gw1', mqtt: { url: broker.url }, logger: silentLogger() });
    const started = Date.now();
    await waitFor(
      () =>
        ['D1', 'D2'].every((id) => sub.readings.filter((r) => r.meter === id).length >= 2) &&
        sub.readings.some((r) => r.meter === 'D3' && r.error?.code === 'BREAKER_OPEN'),
      40_000,
      'two readings from each healthy meter and a BREAKER_OPEN from the silent one',
    );
    const elapsed = Date.now() - started;
    await gw.stop();
    gw = undefined;

    for (const r of sub.readings.filter((r) => r.meter !== 'D3')) {
      expect(r.quality, `${r.meter}: ${r.error?.message}`).toBe('good');
      const sim = meters.find((m) => m.id === r.meter)!;
      const want = sim.values();
      for (const p of profile.points)
        expect(r.values[p.quantity], p.quantity).toBeCloseTo(want[p.quantity]!, p.decimals - 1);
      expect(r.values.relay_closed).toBe(1);
      expect(Math.abs(r.deviceTs! - r.ts)).toBeLessThan(60_000);
      expect(r.flags ?? []).not.toContain('DEVICE_CLOCK_INVALID');
    }
    const silent = sub.readings.filter((r) => r.meter === 'D3').map((r) => r.error?.code);
    expect(silent[0]).toBe('DLT645_TIMEOUT');
    expect(silent).toContain('BREAKER_OPEN');
    // Nine requests a poll at 2400 baud: seconds, not milliseconds — the line really is that slow.
    expect(elapsed).toBeGreaterThan(2_000);
  }, 60_000);

  it('reads CJ/T 188 water and heat meters on a second 2400 8E1 line', async () => {
    const waterEnd = join(dir, 'ttyWaterMeters');
    const gatewayWater = join(dir, 'ttyGatewayWater');
    const pair = await startPtyPair(waterEnd, gatewayWater);
    const fp = loadFieldProfiles();
    const sims = [
      new Cjt188SimMeter({
        id: 'W1',
        address: '00000000000201',
        profile: fp.get('cjt188-cold-water-valve') as Cjt188Profile,
        load: 'office',
        seed: 5,
        clock: () => FROZEN,
      }),
      new Cjt188SimMeter({
        id: 'H1',
        address: '00000000000202',
        profile: fp.get('cjt188-heat') as Cjt188Profile,
        load: 'office',
        seed: 6,
        clock: () => FROZEN,
      }),
    ];
    for (const m of sims) m.physics.setClockSkew(Date.now() - FROZEN);
    const water = await startCjt188Line({
      transport: { kind: 'serial', path: waterEnd, baudRate: 2400, parity: 'even' },
      meters: sims,
      baudRate: 2400,
      latencyMs: 20,
    });
    try {
      const campus = validateCampus(
        {
          campus: { name: 'CJ/T 188 serial test' },
          dataDir: dir,
          sites: [
            {
              id: 'test',
              gateways: [
                {
                  id: 'gw2',
                  buses: [
                    {
                      id: 'water-485',
                      type: 'modbus-rtu',
                      protocol: 'cjt188',
                      path: gatewayWater,
                      baudRate: 2400,
                      parity: 'even',
                      timeout: '1500ms',
                      meters: sims.map((m, i) => ({
                        id: m.id,
                        kind: m.profile.kind,
                        profile: m.id === 'W1' ? 'cjt188-cold-water-valve' : 'cjt188-heat',
                        unitId: i + 1,
                        address: m.address,
                        pollInterval: '2s',
                      })),
                    },
                  ],
                },
              ],
            },
          ],
        },
        { file: '(cjt188 serial test)', dir },
      );
      gw = await startGateway({
        campus,
        gatewayId: 'gw2',
        mqtt: { url: broker.url },
        logger: silentLogger(),
        outboxPath: join(dir, 'gw2.sqlite'),
      });
      await waitFor(
        () => sims.every((m) => sub.readings.some((r) => r.meter === m.id)),
        20_000,
        'a reading from each water and heat meter',
      );
      await gw.stop();
      gw = undefined;
      for (const m of sims) {
        const r = sub.readings.find((x) => x.meter === m.id)!;
        expect(r.quality, `${m.id}: ${r.error?.message}`).toBe('good');
        for (const [q, v] of Object.entries(m.values()))
          expect(r.values[q as keyof typeof r.values], q).toBeCloseTo(v, 1);
      }
    } finally {
      await water.close();
      pair.close();
    }
  }, 40_000);
});
