import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { subscribeReadings } from '../../adapters/mqtt/subscriber.ts';
import { validateCampus } from '../../config/campus.ts';
import { startGateway } from '../../gateway/gateway.ts';
import { silentLogger } from '../../gateway/log.ts';
import { demoBusCount, demoCampus } from '../../simulators/campus/demo-campus.ts';
import { startFarm } from '../../simulators/farm.ts';
import { farmSpecFromCampus } from '../../simulators/from-campus.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/readings.ts';

/**
 * The demo campus's DL/T 645 dorm building and CJ/T 188 water and heat line, served by the farm
 * from the campus file alone and read by the gateway: the room meters' clocks, set an hour wrong,
 * are put right by the line's broadcast time set.
 */
describe('demo campus: DL/T 645 dorm building and CJ/T 188 line in the farm', () => {
  const dir = mkdtempSync(join(tmpdir(), 'campus-demo-dlt645-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the farm serves them from the campus file and the gateway reads every meter', async () => {
    const ports = await Promise.all(Array.from({ length: demoBusCount() }, () => freePort()));
    const raw = demoCampus({ ports, dataDir: dir, roomsPerFloorLine: 4 });
    // Only the east gateway's DL/T 645 and CJ/T 188 buses, without their parents elsewhere.
    const east = raw.sites[0]!.gateways![0]!;
    east.buses = east.buses!.filter(
      (b) => 'protocol' in b && b.protocol !== undefined && b.protocol !== 'modbus',
    );
    for (const b of east.buses) {
      for (const m of b.meters ?? []) {
        delete m.parent;
        m.pollInterval = '2s'; // the demo's minute, shortened for the test
      }
    }
    raw.sites = [raw.sites[0]!];
    const campus = validateCampus(raw, { file: '(demo)', dir });
    expect(east.buses.map((b) => b.id)).toEqual(['E3-dlt645', 'e-cjt188']);

    const { spec } = farmSpecFromCampus(campus);
    expect(spec.concentrators).toEqual([]);
    const farm = await startFarm(spec);
    const broker = await startEmbeddedBroker({ port: 0 });
    const sub = await subscribeReadings({ url: broker.url, topic: 'campus/v1/+/+/+/reading' });
    process.env.CAMPUS_DLT645_PASSWORD = '02000000';
    const rooms = campus.config.sites[0]!.gateways[0]!.buses[0]!.meters.map((m) => m.id);
    for (const id of rooms) farm.fieldMeter(id).physics.setClockSkew(-3_600_000);
    const gw = await startGateway({
      campus,
      gatewayId: 'gw-east',
      mqtt: { url: broker.url },
      logger: silentLogger(),
    });
    try {
      const all = [...rooms, 'W-E3', 'H-E3'];
      await waitFor(
        () => all.every((id) => sub.readings.some((r) => r.meter === id)),
        20_000,
        'a reading from every meter',
      );
      for (const id of all) {
        const r = sub.readings.find((x) => x.meter === id)!;
        expect(r.quality, `${id}: ${r.error?.message}`).toBe('good');
      }
      const room = sub.readings.find((r) => r.meter === 'E-E3-101')!;
      expect(Object.keys(room.values).sort()).toEqual(
        [
          'current_a',
          'energy_export_kwh',
          'energy_import_kwh',
          'pf',
          'power_kw',
          'relay_closed',
          'voltage_v',
        ].sort(),
      );
      // The time set went out before the first poll: the meters' clocks agree with the gateway's.
      expect(Math.abs(room.deviceTs! - room.ts)).toBeLessThan(5_000);
      const heat = sub.readings.find((r) => r.meter === 'H-E3')!;
      expect(heat.values.supply_c).toBeGreaterThan(0);
    } finally {
      await gw.stop();
      await sub.close();
      await broker.close();
      await farm.stop();
    }
  }, 40_000);
});
