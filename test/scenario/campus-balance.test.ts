import { beforeAll, describe, expect, it } from 'vitest';
import { loadProfiles } from '../../config/profiles.ts';
import type { Quantity } from '../../config/schemas/quantities.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { demoScenario } from '../../simulators/scenario/demo.ts';
import { counterResolution, renderScenario, type RenderResult } from '../../simulators/scenario/render.ts';
import type { Scenario } from '../../simulators/scenario/schema.ts';
import { DAY, HOUR, byMeter, memoryWriter } from './support.ts';

const STEP = 15 * 60_000;
const profiles = loadProfiles();

interface Rendered {
  scenario: Scenario;
  result: RenderResult;
  readings: StoredReading[];
  meters: Map<string, StoredReading[]>;
}

async function render(scenario: Scenario, days = 7): Promise<Rendered> {
  const writer = memoryWriter();
  const result = await renderScenario(scenario, {
    from: scenario.start,
    to: scenario.start + days * DAY,
    stepMs: STEP,
    writer,
    profiles,
  });
  return { scenario, result, readings: writer.readings, meters: byMeter(writer.readings) };
}

const counterOf = (utility: string): Quantity => (utility === 'water' ? 'volume_m3' : 'energy_import_kwh');

describe('demo campus scenario: a simulated week at 15 min', () => {
  let withInjections: Rendered;
  let clean: Rendered;
  beforeAll(async () => {
    const scenario = demoScenario();
    withInjections = await render(scenario);
    clean = await render({ ...scenario, injections: [] });
  });

  it('has a few hundred meters and readings as the gateway publishes them', () => {
    const { meters, result } = withInjections;
    expect(meters.size).toBeGreaterThanOrEqual(300);
    expect(meters.size).toBeLessThanOrEqual(400);
    expect(result.intervals).toBe(7 * 96);
    for (const list of meters.values()) {
      expect(list.map((r) => r.seq)).toEqual(list.map((_, i) => i));
      expect(list.every((r) => r.quality === 'good')).toBe(true);
    }
    const room = meters.get('E-E1-101')!;
    expect(Object.keys(room[0]!.values).sort()).toEqual(
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
    // The DDS238 register holds 0.01 kWh steps: values are truncated, never ahead of use.
    for (const r of room)
      expect(
        Math.abs(r.values.energy_import_kwh! * 100 - Math.round(r.values.energy_import_kwh! * 100)),
      ).toBeLessThan(1e-6);
    expect(meters.get('E-E-T1')![0]!.values).toHaveProperty('breaker_closed', 1);
  });

  it('balances every upstream meter in every interval: Δup = ΣΔdown + loss + theft, to register resolution', () => {
    const { scenario, result, meters } = withInjections;
    const refOf = new Map(scenario.nodes.filter((n) => n.meter).map((n) => [n.meter!.id, n.meter!]));
    const counter = (meter: string, q: Quantity, k: number) => meters.get(meter)![k]!.values[q]!;
    let checked = 0;
    let worst = 0;
    expect(result.balances.length).toBeGreaterThan(20);
    for (const b of result.balances) {
      const q = counterOf(b.utility);
      const res = (meter: string, k: number) => {
        const ref = refOf.get(meter)!;
        const v = Math.max(Math.abs(counter(meter, q, k)), Math.abs(counter(meter, q, k + 1)));
        return counterResolution(ref, ref.via === 'modbus' ? profiles.get(ref.profile) : undefined, q, v);
      };
      for (let k = 0; k < result.intervals; k++) {
        const up = counter(b.meter, q, k + 1) - counter(b.meter, q, k);
        let down = 0;
        let tolerance = res(b.meter, k) + 1e-9;
        for (const c of b.children) {
          down += counter(c.meter, q, k + 1) - counter(c.meter, q, k);
          tolerance += res(c.meter, k);
        }
        const t = b.intervals;
        const residual = up - down - t.loss[k]! - t.theft[k]! - t.unmetered[k]! + t.selfUnregistered[k]!;
        if (Math.abs(residual) > tolerance) {
          throw new Error(`${b.node} interval ${k}: residual ${residual} > tolerance ${tolerance}`);
        }
        worst = Math.max(worst, Math.abs(residual) / tolerance);
        checked++;
      }
    }
    expect(checked).toBe(result.balances.length * result.intervals);
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('has load-dependent technical losses of a few percent per transformer and feeder', () => {
    const { result, scenario } = withInjections;
    const kinds = new Map(scenario.nodes.map((n) => [n.id, n.kind]));
    const lossy = result.balances.filter((b) => ['transformer', 'feeder'].includes(kinds.get(b.node)!));
    expect(lossy).toHaveLength(12);
    for (const b of lossy) {
      const share = b.totals.loss / result.nodes[b.node]!.totals.registered;
      expect(share, b.node).toBeGreaterThan(0.005);
      expect(share, b.node).toBeLessThan(0.06);
      // Loss grows with load: the busiest quarter of the intervals loses a larger share than the quietest.
      const through = result.nodes[b.node]!.intervals.true;
      const order = [...through.keys()].sort((x, y) => through[x]! - through[y]!);
      const quarter = Math.floor(order.length / 4);
      const rel = (ks: number[]) =>
        ks.reduce((s, k) => s + b.intervals.loss[k]!, 0) / ks.reduce((s, k) => s + through[k]!, 0);
      const quiet = order.slice(0, quarter);
      const busy = order.slice(-quarter);
      const lossOf = (ks: number[]) => ks.reduce((s, k) => s + b.intervals.loss[k]!, 0);
      expect(lossOf(busy), b.node).toBeGreaterThan(1.5 * lossOf(quiet));
      if (kinds.get(b.node) === 'feeder') expect(rel(busy), b.node).toBeGreaterThan(rel(quiet));
    }
    const water = result.balances.find((b) => b.node === 'W-E-MASTER')!;
    expect(water.totals.loss / result.nodes['W-E-MASTER']!.totals.registered).toBeCloseTo(0.03 / 1.03, 6);
  });

  it('shows each injection in the right balance and in no other', () => {
    const apparentLoss = (r: Rendered, node: string) => {
      const b = r.result.balances.find((x) => x.node === node)!;
      const up = r.result.nodes[b.node]!.totals.registered;
      const down = b.children.reduce((s, c) => s + r.result.nodes[c.node]!.totals.registered, 0);
      return (up - down) / up;
    };
    const expected: Record<string, number> = {
      'E-F2': 192, // tap: 4 kW for 48 h
      'W-STAFF': Number.NaN, // bypassed household meter
      'W-F4': Number.NaN, // canteen meter running backwards
      W2: Number.NaN, // stopped room meter
    };
    for (const b of withInjections.result.balances) {
      const change = apparentLoss(withInjections, b.node) - apparentLoss(clean, b.node);
      if (b.node in expected) {
        expect(change, b.node).toBeGreaterThan(0.004);
        expect(b.totals.theft, b.node).toBeGreaterThan(20);
      } else {
        expect(Math.abs(change), b.node).toBeLessThan(0.0005);
        expect(b.totals.theft, b.node).toBe(0);
      }
    }
    expect(withInjections.result.balances.find((b) => b.node === 'E-F2')!.totals.theft).toBeCloseTo(192, 6);
    expect(withInjections.result.nodes['E-F2']!.totals.tap).toBeCloseTo(192, 6);
  });

  it('shows the illegal heater as a resistive power step in the room readings', () => {
    const start = withInjections.scenario.start;
    const dirty = withInjections.meters.get('E-E1-112')!;
    const base = clean.meters.get('E-E1-112')!;
    const on = (ts: number) =>
      (ts >= start + 3 * DAY + 18 * HOUR && ts < start + 3 * DAY + 23 * HOUR) ||
      (ts >= start + 4 * DAY + 19 * HOUR && ts < start + 4 * DAY + 23.5 * HOUR);
    let steps = 0;
    dirty.forEach((r, k) => {
      const b = base[k]!;
      const dP = r.values.power_kw! - b.values.power_kw!;
      if (!on(r.ts)) return expect(dP).toBe(0);
      steps++;
      expect(dP).toBeCloseTo(1.5, 3);
      // The increment is resistive: ΔP/ΔS ≈ 1 (REFERENCE: illegal-load detection in dorm meters).
      const dS = r.values.power_kw! / r.values.pf! - b.values.power_kw! / b.values.pf!;
      expect(dP / dS).toBeGreaterThan(0.9);
      expect(r.values.pf!).toBeGreaterThan(b.values.pf!);
    });
    expect(steps).toBe(20 + 18);
    expect(withInjections.result.nodes['E1-112']!.totals.illegal).toBeCloseTo(1.5 * 9.5, 6);
  });

  it('shows heating used while registered stopped as flow and a space-heating ΔT', () => {
    const start = withInjections.scenario.start;
    const heat = withInjections.meters.get('H-E-H03')!;
    const inWindow = heat.filter((r) => r.ts >= start + 2 * DAY && r.ts < start + 4 * DAY);
    const before = heat.filter((r) => r.ts < start + 2 * DAY);
    expect(before.every((r) => r.values.flow_m3h === 0)).toBe(true);
    expect(before.at(-1)!.values.heat_kwh).toBe(before[0]!.values.heat_kwh);
    expect(inWindow.every((r) => r.values.flow_m3h! > 0.1)).toBe(true);
    expect(inWindow.every((r) => r.values.supply_c! - r.values.return_c! > 3)).toBe(true);
    expect(heat.at(-1)!.values.heat_kwh! - before[0]!.values.heat_kwh!).toBeGreaterThan(50);
    expect(withInjections.result.nodes['H-E-H03']!.totals.illegal).toBeGreaterThan(50);
    // The other stopped household stays cold.
    expect(withInjections.meters.get('H-E-H09')!.every((r) => r.values.flow_m3h === 0)).toBe(true);
  });

  it('shows a meter running backwards as a decreasing register', () => {
    const start = withInjections.scenario.start;
    const canteen = withInjections.meters.get('E-W-CANTEEN')!;
    const window = canteen.filter((r) => r.ts >= start + 5 * DAY && r.ts <= start + 5 * DAY + 12 * HOUR);
    expect(window).toHaveLength(49);
    for (let k = 1; k < window.length; k++)
      expect(window[k]!.values.energy_import_kwh!).toBeLessThan(window[k - 1]!.values.energy_import_kwh!);
    expect(window.slice(0, -1).every((r) => r.values.power_kw! < 0)).toBe(true);
  });

  it('honours a room relay cut: no power, a flat register, relay open', () => {
    const start = withInjections.scenario.start;
    const room = withInjections.meters.get('E-E1-205')!;
    const cut = room.filter((r) => r.ts >= start + DAY && r.ts < start + 2 * DAY);
    expect(cut).toHaveLength(96);
    expect(cut.every((r) => r.values.relay_closed === 0 && r.values.power_kw === 0)).toBe(true);
    expect(cut.at(-1)!.values.energy_import_kwh).toBe(cut[0]!.values.energy_import_kwh);
    expect(room.filter((r) => r.values.relay_closed === 0)).toHaveLength(96);
  });

  it('is deterministic: the same seed gives identical readings, another seed others', async () => {
    const a = await render(demoScenario(), 1);
    const b = await render(demoScenario(), 1);
    expect(b.readings).toEqual(a.readings);
    expect(a.readings).toEqual(withInjections.readings.slice(0, a.readings.length));
    const c = await render(demoScenario({ seed: 1 }), 1);
    expect(c.readings.length).toBe(a.readings.length);
    expect(c.readings.at(-1)!.values).not.toEqual(a.readings.at(-1)!.values);
  });
});
