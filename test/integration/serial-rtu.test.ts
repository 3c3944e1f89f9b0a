import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { socatAvailable, startPtyPair } from '../helpers/socat.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { subscribeReadings, type ReadingSubscription } from '../../adapters/mqtt/subscriber.ts';
import { validateCampus } from '../../config/campus.ts';
import { loadProfiles } from '../../config/profiles.ts';
import { startGateway, type RunningGateway } from '../../gateway/gateway.ts';
import { silentLogger } from '../../gateway/log.ts';
import { lookupOf } from '../../simulators/farm.ts';
import { SimMeter } from '../../simulators/meters/sim-meter.ts';
import { startSerialServer, type SerialModbusServer } from '../../simulators/modbus/serial-server.ts';
import { valueMismatches } from '../helpers/field.ts';
import { waitFor } from '../helpers/readings.ts';

const hasSocat = socatAvailable();

describe.skipIf(!hasSocat)('Modbus RTU over a real serial line (socat pseudo-terminal pair)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'campus-rtu-'));
  const meterEnd = join(dir, 'ttyMeters');
  const gatewayEnd = join(dir, 'ttyGateway');
  const FROZEN = Date.UTC(2026, 10, 27, 8, 0);
  const profiles = loadProfiles();
  const models = ['eastron-sdm120', 'hiking-dds238-2', 'chint-dtsu666', 'generic-water-meter'] as const;
  const meters = models.map(
    (model, i) =>
      new SimMeter({
        id: `R${i + 1}`,
        profile: profiles.get(model)!,
        load: 'dorm-room',
        seed: 10 + i,
        unitId: i + 1,
        clock: () => FROZEN,
      }),
  );
  let socat: { close(): void };
  let server: SerialModbusServer;
  let broker: Awaited<ReturnType<typeof startEmbeddedBroker>>;
  let sub: ReadingSubscription;
  let gw: RunningGateway | undefined;

  beforeAll(async () => {
    socat = await startPtyPair(meterEnd, gatewayEnd);
    server = await startSerialServer({ path: meterEnd, lookup: lookupOf(meters), baudRate: 9600 });
    broker = await startEmbeddedBroker({ port: 0 });
    sub = await subscribeReadings({ url: broker.url, topic: 'campus/v1/+/+/+/reading' });
  });

  afterAll(async () => {
    await gw?.stop();
    await sub?.close();
    await broker?.close();
    await server?.close();
    socat?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('polls every meter on the line with decoded values', async () => {
    const campus = validateCampus(
      {
        campus: { name: 'RTU test' },
        dataDir: dir,
        sites: [
          {
            id: 'test',
            gateways: [
              {
                id: 'gw1',
                buses: [
                  {
                    id: 'rs485-1',
                    type: 'modbus-rtu',
                    path: gatewayEnd,
                    baudRate: 9600,
                    parity: 'none',
                    timeout: '500ms',
                    meters: meters.map((m, i) => ({
                      id: m.id,
                      kind: m.profile.kind,
                      profile: models[i],
                      unitId: i + 1,
                      pollInterval: '500ms',
                    })),
                  },
                ],
              },
            ],
          },
        ],
      },
      { file: '(rtu test)', dir },
    );
    gw = await startGateway({ campus, gatewayId: 'gw1', mqtt: { url: broker.url }, logger: silentLogger() });
    await waitFor(
      () => meters.every((m) => sub.readings.filter((r) => r.meter === m.id).length >= 3),
      20_000,
      'three readings from each meter on the serial line',
    );
    await gw.stop();
    gw = undefined;
    for (const r of sub.readings) {
      expect(r.quality, `${r.meter}: ${r.error?.message}`).toBe('good');
      const sim = meters.find((m) => m.id === r.meter)!;
      expect(valueMismatches(r, sim.values(), sim.profile)).toEqual([]);
    }
    const relay = sub.readings.find((r) => r.meter === 'R2')!;
    expect(relay.values.relay_closed).toBe(1);
  }, 40_000);
});
