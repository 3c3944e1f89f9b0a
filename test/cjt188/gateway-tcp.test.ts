import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cjt188Profile } from '../../adapters/cjt188/profile.ts';
import { startEmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { subscribeReadings, type ReadingSubscription } from '../../adapters/mqtt/subscriber.ts';
import { validateCampus } from '../../config/campus.ts';
import { loadFieldProfiles } from '../../config/field-profiles.ts';
import { startGateway, type RunningGateway } from '../../gateway/gateway.ts';
import { silentLogger } from '../../gateway/log.ts';
import { Cjt188SimMeter, startCjt188Line } from '../../simulators/cjt188/meter.ts';
import type { LineServer } from '../../simulators/dlt645/line-server.ts';
import { waitFor } from '../helpers/readings.ts';
import { freePort } from '../helpers/ports.ts';

/**
 * CJ/T 188 water and heat meters behind a serial-to-Ethernet converter in transparent mode (raw
 * frames over TCP), polled by the gateway through the same scheduler: a meter whose neighbour
 * answers in its place gets CJT188_GARBAGE readings, never the neighbour's values.
 */
describe('CJ/T 188 through a TCP transparent converter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'campus-cjt188-'));
  const FROZEN = Date.UTC(2026, 0, 15, 1, 0);
  const profiles = loadFieldProfiles();
  const water = profiles.get('cjt188-cold-water-valve') as Cjt188Profile;
  const heat = profiles.get('cjt188-heat') as Cjt188Profile;
  const meters = [
    new Cjt188SimMeter({
      id: 'W1',
      address: '00000000000201',
      profile: water,
      load: 'office',
      seed: 1,
      clock: () => FROZEN,
      unitCodes: { volume: 0x29 },
    }),
    new Cjt188SimMeter({
      id: 'H1',
      address: '00000000000202',
      profile: heat,
      load: 'office',
      seed: 2,
      clock: () => FROZEN,
      unitCodes: { energy: 0x0e },
    }),
    new Cjt188SimMeter({
      id: 'W2',
      address: '00000000000203',
      profile: water,
      load: 'office',
      seed: 3,
      clock: () => FROZEN,
    }),
  ];
  let line: LineServer;
  let broker: Awaited<ReturnType<typeof startEmbeddedBroker>>;
  let sub: ReadingSubscription;
  let gw: RunningGateway | undefined;

  beforeAll(async () => {
    for (const m of meters) m.physics.setClockSkew(Date.now() - FROZEN);
    meters[2]!.setFault({ type: 'wrong-address' });
    line = await startCjt188Line({ transport: { kind: 'tcp' }, meters });
    broker = await startEmbeddedBroker({ port: 0 });
    sub = await subscribeReadings({ url: broker.url, topic: 'campus/v1/+/+/+/reading' });
  });
  afterAll(async () => {
    await gw?.stop();
    await sub?.close();
    await broker?.close();
    await line?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads water in litres and heat in MJ as m³ and kWh; a foreign answer is an error reading', async () => {
    const campus = validateCampus(
      {
        campus: { name: 'CJ/T 188 test' },
        dataDir: dir,
        sites: [
          {
            id: 'test',
            gateways: [
              {
                id: 'gw1',
                buses: [
                  {
                    id: 'water-line',
                    type: 'rtu-over-tcp',
                    protocol: 'cjt188',
                    host: line.host,
                    port: line.port,
                    timeout: '500ms',
                    resyncDelay: '50ms',
                    meters: meters.map((m, i) => ({
                      id: m.id,
                      kind: m.profile.kind,
                      profile: m.id.startsWith('W') ? 'cjt188-cold-water-valve' : 'cjt188-heat',
                      unitId: i + 1,
                      address: m.address,
                      pollInterval: '500ms',
                    })),
                  },
                ],
              },
            ],
          },
        ],
      },
      { file: '(cjt188 test)', dir },
    );
    gw = await startGateway({ campus, gatewayId: 'gw1', mqtt: { url: broker.url }, logger: silentLogger() });
    await waitFor(
      () =>
        ['W1', 'H1'].every((id) => sub.readings.filter((r) => r.meter === id).length >= 3) &&
        sub.readings.some((r) => r.meter === 'W2'),
      20_000,
      'readings from every meter',
    );
    await gw.stop();
    gw = undefined;
    for (const r of sub.readings.filter((r) => r.meter !== 'W2')) {
      expect(r.quality, `${r.meter}: ${r.error?.message}`).toBe('good');
      const want = meters.find((m) => m.id === r.meter)!.values();
      for (const [q, v] of Object.entries(want))
        expect(r.values[q as keyof typeof r.values], q).toBeCloseTo(v, q === 'heat_kwh' ? 0 : 1);
    }
    const w2 = sub.readings.filter((r) => r.meter === 'W2');
    expect(
      w2.every((r) => r.quality === 'error' && ['CJT188_GARBAGE', 'BREAKER_OPEN'].includes(r.error!.code)),
    ).toBe(true);
    expect(w2[0]!.error!.message).toContain('00000000000204');
  }, 40_000);

  it('an unreachable converter gives CJT188_DISCONNECTED readings each interval, and polling resumes when it is back', async () => {
    const port = await freePort();
    const raw = (p: number) => ({
      campus: { name: 'CJ/T 188 reconnect' },
      dataDir: dir,
      sites: [
        {
          id: 'test',
          gateways: [
            {
              id: 'gw2',
              buses: [
                {
                  id: 'water-line-2',
                  type: 'rtu-over-tcp',
                  protocol: 'cjt188',
                  host: '127.0.0.1',
                  port: p,
                  timeout: '500ms',
                  meters: [
                    {
                      id: 'W9',
                      kind: 'water',
                      profile: 'cjt188-cold-water-valve',
                      unitId: 1,
                      address: '00000000000209',
                      pollInterval: '300ms',
                    },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    const campus = validateCampus(raw(port), { file: '(cjt188 reconnect)', dir });
    gw = await startGateway({
      campus,
      gatewayId: 'gw2',
      mqtt: { url: broker.url },
      logger: silentLogger(),
      outboxPath: join(dir, 'gw2-outbox.sqlite'),
    });
    const mine = () => sub.readings.filter((r) => r.meter === 'W9');
    await waitFor(() => mine().length >= 2, 10_000, 'error readings while the converter is down');
    expect(mine().every((r) => r.error?.code === 'CJT188_DISCONNECTED')).toBe(true);
    const w9 = new Cjt188SimMeter({
      id: 'W9',
      address: '00000000000209',
      profile: water,
      load: 'office',
      seed: 9,
      clock: () => FROZEN,
    });
    const back = await startCjt188Line({ transport: { kind: 'tcp', port }, meters: [w9] });
    try {
      await waitFor(
        () => mine().some((r) => r.quality === 'good'),
        15_000,
        'a good reading after the converter is back',
      );
    } finally {
      await gw.stop();
      gw = undefined;
      await back.close();
    }
  }, 40_000);
});
