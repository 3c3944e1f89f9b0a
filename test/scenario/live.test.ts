import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateCampus } from '../../config/campus.ts';
import { loadProfiles } from '../../config/profiles.ts';
import type { Quantity } from '../../config/schemas/quantities.ts';
import { SimMeter, gatewayValues } from '../../simulators/meters/sim-meter.ts';
import { demoScenario } from '../../simulators/scenario/demo.ts';
import {
  ScenarioRuntime,
  campusFromScenario,
  scenarioBuses,
  startScenario,
  substationElements,
} from '../../simulators/scenario/live.ts';
import { renderScenario } from '../../simulators/scenario/render.ts';
import { startSubstation } from '../../simulators/substation/server.ts';
import { closeClient, decodePoints, manualClock, readAll, span, tcpClient } from '../simulators/fixtures.ts';
import { DAY, HOUR, byMeter, memoryWriter, smallScenario } from './support.ts';

const profiles = loadProfiles();
const dir = mkdtempSync(join(tmpdir(), 'scenario-live-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Decodes a device's whole register image, as a gateway poll would. */
function decodeDevice(m: SimMeter): Partial<Record<Quantity, number>> {
  const out = {};
  for (const fc of [3, 4] as const) {
    if (!m.profile.points.some((p) => p.fc === fc)) continue;
    const { address, count } = span(m.profile, fc);
    const regs: number[] = [];
    for (let a = address; a < address + count; a += m.profile.maxRegistersPerRead) {
      const n = Math.min(m.profile.maxRegistersPerRead, address + count - a);
      const buf = Buffer.alloc(n * 2);
      expect(m.readRegisters(fc, a, n, buf, 0)).toBe(0);
      for (let i = 0; i < n; i++) regs.push(buf.readUInt16BE(i * 2));
    }
    Object.assign(out, decodePoints(m.profile, fc, address, regs));
  }
  return out;
}

describe('live and fast paths', () => {
  it('decode a register image the same as gatewayValues, for every built-in profile', () => {
    const clock = manualClock(Date.UTC(2026, 11, 3, 1, 0, 30));
    for (const [id, profile] of profiles) {
      const m = new SimMeter({ id, profile, load: 'staff-household', seed: 11, unitId: 1, clock: clock.now });
      for (let i = 0; i < 5; i++) {
        clock.advance(37 * 60_000 + 1234);
        expect(decodeDevice(m), id).toEqual(gatewayValues(profile)(m.state()));
      }
    }
  });

  it('give the same register values and element values at the same simulated time', async () => {
    const scenario = demoScenario();
    const from = scenario.start + 3 * DAY + 17 * HOUR;
    const to = from + 3 * HOUR;
    const writer = memoryWriter();
    await renderScenario(scenario, { from: scenario.start, to, stepMs: 15 * 60_000, writer, profiles });
    const rendered = byMeter(writer.readings.filter((r) => r.ts >= from));

    const clock = manualClock(0);
    const runtime = new ScenarioRuntime(scenario, { clock: clock.now, profiles });
    const devices = [...runtime.devices().values()].flat();
    expect(devices.length).toBeGreaterThan(300);
    const elements = scenario.sites.flatMap((s) =>
      s.substations.flatMap((sub) => {
        const values = runtime.substationValues(sub.id);
        return substationElements(scenario, sub.id).map((e) => ({ ...e, values }));
      }),
    );
    expect(elements).toHaveLength(14);

    let compared = 0;
    for (let t = from, k = 0; t <= to; t += 15 * 60_000, k++) {
      clock.advance(t - runtime.now());
      for (const m of devices) {
        const r = rendered.get(m.id)![k]!;
        expect(r.ts).toBe(t);
        expect(decodeDevice(m), m.id).toEqual(r.values);
        compared++;
      }
      for (const e of elements) {
        const v = e.values(e.id);
        const r = rendered.get(e.meter)![k]!;
        expect(r.values).toEqual({
          energy_import_kwh: v.energyImportKwh,
          power_kw: v.powerKw,
          current_a: v.currentA,
          voltage_v: v.voltageV,
          pf: v.pf,
          breaker_closed: v.breakerClosed ? 1 : 0,
        });
      }
    }
    expect(compared).toBe(13 * devices.length);
  });

  it('keeps upstream meters consistent when a room relay is switched live', () => {
    const scenario = smallScenario();
    const clock = manualClock(0);
    const runtime = new ScenarioRuntime(scenario, { clock: clock.now, profiles });
    const byId = new Map([...runtime.devices().values()].flat().map((m) => [m.id, m]));
    clock.advance(20 * HOUR + 30_000); // 20:00 local, mid-minute
    const room = byId.get('E-R1')!;
    const building = byId.get('E-B1')!;
    const before = building.state().powerKw;
    const roomPower = room.state().powerKw;
    expect(roomPower).toBeGreaterThan(0);
    const data = Buffer.alloc(2); // 0 = open
    expect(room.writeRegisters(16, 0x1a, data, 0, 1)).toBe(0);
    expect(room.relayClosed).toBe(false);
    expect(room.state().powerKw).toBe(0);
    expect(building.state().powerKw).toBeCloseTo(before - roomPower, 9);
    const e0 = room.state().energyImportKwh;
    clock.advance(HOUR);
    expect(room.state().energyImportKwh).toBe(e0);
    expect(decodeDevice(room).relay_closed).toBe(0);
  });

  it('renders a comm fault as error readings or lost messages, and serves it live as a Modbus fault', async () => {
    const scenario = smallScenario({
      injections: [
        { type: 'comm-fault', node: 'R1', from: '+1h', to: '+2h' },
        { type: 'comm-fault', node: 'WU1', from: '+1h', to: '+2h', render: 'missing' },
      ],
    });
    const writer = memoryWriter();
    await renderScenario(scenario, {
      from: scenario.start,
      to: scenario.start + 3 * HOUR,
      stepMs: 15 * 60_000,
      writer,
    });
    const meters = byMeter(writer.readings);
    const r1 = meters.get('E-R1')!;
    expect(r1.map((r) => r.seq)).toEqual([...Array(13).keys()]);
    const bad = r1.filter((r) => r.quality === 'error');
    expect(bad.map((r) => r.seq)).toEqual([4, 5, 6, 7]);
    expect(bad[0]!.error?.code).toBe('MODBUS_TIMEOUT');
    expect(bad[0]!.values).toEqual({});
    expect(meters.get('W-U1')!.map((r) => r.seq)).toEqual([0, 1, 2, 3, 8, 9, 10, 11, 12]);

    const clock = manualClock(0);
    const runtime = new ScenarioRuntime(scenario, { clock: clock.now, profiles });
    const device = [...runtime.devices().values()].flat().find((m) => m.id === 'E-R1')!;
    expect(device.fault.type).toBe('none');
    clock.advance(HOUR + 60_000);
    expect(device.fault.type).toBe('timeout');
    clock.advance(HOUR);
    expect(device.fault.type).toBe('none');
  });

  it('builds a valid campus config: Modbus buses and one OPC UA device per substation', () => {
    const scenario = demoScenario();
    const buses = scenarioBuses(scenario);
    const raw = campusFromScenario(scenario, {
      ports: buses.map((_, i) => 15000 + i),
      dataDir: dir,
      substationEndpoints: {
        'east-sub1': 'opc.tcp://127.0.0.1:4841/east',
        'west-sub1': 'opc.tcp://127.0.0.1:4842/west',
      },
    });
    const campus = validateCampus(raw, { file: 'scenario', dir });
    const gw = campus.config.sites[0]!.gateways[0]!;
    expect(gw.buses.map((b) => b.type)).toContain('rtu-over-tcp');
    expect(gw.opcua).toHaveLength(1);
    const t1 = gw.opcua[0]!.meters.find((m) => m.id === 'E-E-T1')!;
    expect(t1.parent).toBe('E-E-SUB1-IN');
    expect(t1.nodes.energy_import_kwh?.nodeId).toBe('ns=1;s=east-sub1.T1.energy_import_kwh');
    const all = campus.config.sites.flatMap((s) =>
      s.gateways.flatMap((g) => [...g.buses.flatMap((b) => b.meters), ...g.opcua.flatMap((d) => d.meters)]),
    );
    expect(all).toHaveLength(scenario.nodes.filter((n) => n.meter).length);
    expect(all.find((m) => m.id === 'E-E1-MAIN')!.parent).toBe('E-E-F1');
    expect(all.find((m) => m.id === 'E-E1-101')!.parent).toBe('E-E1-MAIN');

    // Without substation servers the building mains become roots.
    const modbusOnly = validateCampus(
      campusFromScenario(scenario, { ports: buses.map(() => 502), dataDir: dir }),
      {
        file: 'scenario',
        dir,
      },
    );
    const mains = modbusOnly.config.sites[0]!.gateways[0]!.buses[0]!.meters.find(
      (m) => m.id === 'E-E1-MAIN',
    )!;
    expect(mains.parent).toBeUndefined();
  });

  it('starts the Modbus buses of a scenario on loopback, fed by the model', async () => {
    const scenario = smallScenario();
    const running = await startScenario(scenario, { dataDir: dir, profiles, host: '127.0.0.1', speed: 60 });
    try {
      expect(running.buses).toHaveLength(2);
      validateCampus(running.campus, { file: 'scenario', dir });
      const mains = running.buses.find((b) => b.id === 'mains')!;
      const client = await tcpClient(mains.port, 'tcp', 1);
      try {
        const values = await readAll(client, profiles.get('eastron-sdm630')!);
        const state = running.meter('E-B1').state();
        expect(values.energy_import_kwh).toBeGreaterThan(500);
        expect(Math.abs(values.energy_import_kwh! - state.energyImportKwh)).toBeLessThan(1);
      } finally {
        await closeClient(client);
      }
    } finally {
      await running.stop();
    }
  });

  it('starts a substation server per substation when given one, and reads it into the campus', async () => {
    const scenario = smallScenario();
    const running = await startScenario(scenario, { dataDir: dir, profiles, startSubstation });
    try {
      const campus = validateCampus(running.campus, { file: 'scenario', dir });
      const device = campus.config.sites[0]!.gateways[0]!.opcua[0]!;
      expect(device.endpoint).toMatch(/^opc\.tcp:\/\/127\.0\.0\.1:\d+/);
      expect(device.meters.map((m) => m.id)).toEqual(['E-IN', 'E-T1', 'E-F1']);
      expect(campus.config.sites[0]!.gateways[0]!.buses[0]!.meters[0]!.parent).toBe('E-F1');
    } finally {
      await running.stop();
    }
  });
});
