import { beforeAll, describe, expect, it } from 'vitest';
import {
  createDetector,
  detectInput,
  type EngineResult,
} from '../../services/inspection/detection/engine.ts';
import {
  SlotStore,
  buildTopology,
  FLAG,
  type MeterSpec,
} from '../../services/inspection/detection/series.ts';
import { parseScenario } from '../../simulators/scenario/schema.ts';
import {
  ATTACKS,
  DAY,
  HOUR,
  campusInput,
  jokar,
  mulberry32,
  renderInput,
  transformConsumption,
} from './support.ts';

describe('Jokar et al. (2016) attacks h1–h6, one thief per building (35 days at 1 h)', () => {
  let res: EngineResult;
  const thieves = new Map<string, string>();
  beforeAll(async () => {
    const scenario = parseScenario(
      campusInput({ seed: 5, feeders: 2, buildingsPerFeeder: 3, roomsPerBuilding: 8 }),
    );
    const { input } = await renderInput(scenario, { days: 35, stepMs: HOUR });
    const rand = mulberry32(42);
    const onset = scenario.start + 29 * DAY;
    ATTACKS.forEach((attack, i) => {
      const building = `B${1 + Math.floor(i / 3)}${1 + (i % 3)}`;
      const meter = `E-${building}-0${1 + (i % 8)}`;
      thieves.set(meter, attack);
      transformConsumption(input, meter, jokar(attack, rand), { from: onset, to: Infinity }, { step: HOUR });
    });
    res = detectInput(input);
  });

  it('ranks every thief first in its building and above every honest meter', () => {
    const honest = res.scores.filter((s) => s.kind === 'meter' && !thieves.has(s.id) && /-\d\d$/.test(s.id));
    const worstHonest = Math.max(...honest.map((s) => s.score));
    for (const [meter, attack] of thieves) {
      const s = res.scores.find((x) => x.id === meter)!;
      expect(s.score, `${attack} ${meter}`).toBeGreaterThan(worstHonest);
      const building = meter.slice(0, -3);
      expect(res.suspects.get(building)![0]!.meter, attack).toBe(meter);
    }
  });

  it('shows shape attacks (h4–h6) in the meter’s own anomaly features', () => {
    for (const [meter, attack] of thieves) {
      if (!['h4', 'h5', 'h6'].includes(attack)) continue;
      const a = res.anomalies.find((x) => x.id === meter)!;
      expect(a.features.shape, attack).toBeGreaterThan(1);
    }
  });
});

describe('stopped meter vs communication gap vs relay cut-off', () => {
  it('reports only the stopped meter', async () => {
    const input = campusInput({
      feeders: 1,
      buildingsPerFeeder: 1,
      roomsPerBuilding: 6,
      injections: [
        { type: 'meter-stopped', node: 'B11-01', from: '+10d', to: '+11d' },
        { type: 'comm-fault', node: 'B11-02', from: '+10d', to: '+11d', render: 'error' },
      ],
    });
    input.nodes.find((n) => n.id === 'B11-03')!.cut = [{ from: '+10d', to: '+11d' }];
    const { input: det } = await renderInput(parseScenario(input), { days: 14, stepMs: HOUR });
    const res = detectInput(det);
    const stopped = res.findings.filter((f) => f.type === 'meter-stopped').map((f) => f.meter);
    expect(stopped).toEqual(['E-B11-01']);
    const flags = res.store.flags[res.store.topology.index.get('E-B11-03')!]!;
    expect(Array.from(flags).some((f) => (f & FLAG.relayOpen) !== 0)).toBe(true);
    expect(res.findings.some((f) => f.meter === 'E-B11-02')).toBe(false);
  });
});

describe('slot store', () => {
  it('turns registers into slots: rollover counted, decrease flagged, missing sample a gap', () => {
    const top = buildTopology([{ id: 'a', kind: 'electricity' }]);
    const store = new SlotStore(top, { step: HOUR, offsetMs: 0, retentionSlots: 100 });
    const regs = [99_990, 99_995, 3, 2, Number.NaN, 10, 12];
    regs.forEach((r, i) => store.push({ ts: i * HOUR, registers: [r] }));
    store.flush();
    const v = Array.from(store.values[0]!.subarray(0, store.length));
    expect(v[0]).toBe(5);
    expect(v[1]).toBe(8);
    expect(store.flags[0]![1]! & FLAG.rollover).toBeTruthy();
    expect(v[2]).toBe(-1);
    expect(store.flags[0]![2]! & FLAG.decrease).toBeTruthy();
    expect(Number.isNaN(v[3]!) && Number.isNaN(v[4]!)).toBe(true);
    expect(v[5]).toBe(2);
  });
});

describe('incremental detector', () => {
  // 6 feeders × 12 rooms at 15 min for 72 days (past the 63-day retention: old slots are dropped);
  // a 1.5 kW tap on F2 from day 69, and room F4-R3 registering 30 % from day 68.
  const FEEDERS = 6;
  const ROOMS = 12;
  const STEP = 15 * 60_000;
  const DAYS = 72;
  const start = Date.parse('2026-03-01T00:00:00+08:00');
  const specs: MeterSpec[] = [];
  for (let f = 0; f < FEEDERS; f++) {
    specs.push({ id: `F${f}`, kind: 'electricity' });
    for (let r = 0; r < ROOMS; r++) specs.push({ id: `F${f}-R${r}`, kind: 'electricity', parent: `F${f}` });
  }
  const feed = (onInstant: (d: { ts: number; registers: Float64Array }, j: number) => void) => {
    const rand = mulberry32(7);
    const regs = new Float64Array(specs.length).fill(500);
    for (let j = 0; j < DAYS * 96; j++) {
      const hour = ((j % 96) / 4 + 8) % 24;
      const shape = 0.25 + 0.2 * Math.sin(((hour - 14) * Math.PI) / 12) ** 2 + (hour > 18 ? 0.3 : 0);
      for (let f = 0; f < FEEDERS; f++) {
        let load = 0;
        for (let r = 0; r < ROOMS; r++) {
          const i = f * (ROOMS + 1) + 1 + r;
          const kwh = (0.5 + ((i * 37) % 10) / 10) * shape * (0.8 + 0.4 * rand()) * 0.25;
          load += kwh;
          regs[i] = regs[i]! + kwh * (f === 4 && r === 3 && j >= 68 * 96 ? 0.3 : 1);
        }
        const p = load * 4 + (f === 2 && j >= 69 * 96 ? 1.5 : 0);
        regs[f * (ROOMS + 1)] = regs[f * (ROOMS + 1)]! + (p + 0.01 + 0.0004 * p * p) * 0.25;
      }
      onInstant({ ts: start + j * STEP, registers: regs }, j);
    }
  };
  const opts = { step: STEP, timezone: 'Asia/Shanghai', start };

  it('keeps its result up to date hour by hour, as a fresh evaluation of the same data', () => {
    const live = createDetector(specs, opts);
    feed((d, j) => {
      live.push(d);
      // Evaluated every hour of the last four days (and once before).
      if (j === 60 * 96 || (j >= 68 * 96 && j % 4 === 0)) live.result();
    });
    const inc = live.result();
    expect(live.result()).toBe(inc); // no slot closed since: the standing result
    const fresh = createDetector(specs, opts);
    feed((d) => fresh.push(d));
    const ref = fresh.result();
    expect(inc.store.length).toBe(ref.store.length);
    expect(inc.store.base).toBe(ref.store.base);

    const alerts = (r: EngineResult) =>
      r.scores
        .filter((s) => s.alert)
        .map((s) => s.id)
        .sort();
    expect(alerts(ref)).toEqual(['F2', 'F4', 'F4-R3']);
    expect(alerts(inc)).toEqual(alerts(ref));
    expect(inc.findings.map((f) => f.key).sort()).toEqual(ref.findings.map((f) => f.key).sort());
    // Every finding says the same thing: its type, what it names, how severe and since when.
    const said = (r: EngineResult) =>
      r.findings
        .map((f) => `${f.key} ${f.type} ${f.meter ?? ''} ${f.node ?? ''} ${f.severity} ${f.since}`)
        .sort();
    expect(said(inc)).toEqual(said(ref));
    // Bands and baselines refitted at most a day ago: scores within a few hundredths.
    const byId = new Map(ref.scores.map((s) => [`${s.kind}:${s.id}`, s.score]));
    for (const s of inc.scores)
      expect(Math.abs(s.score - byId.get(`${s.kind}:${s.id}`)!), s.id).toBeLessThan(0.05);
    for (const b of inc.balances) {
      const r = ref.balances.find((x) => x.id === b.id)!;
      expect(b.state, b.id).toBe(r.state);
      expect(Math.abs(b.window.unexplained - r.window.unexplained), b.id).toBeLessThan(0.5);
      expect(b.residual.length).toBe(r.residual.length);
    }
    expect(inc.suspects.get('F4')![0]!.meter).toBe('F4-R3');
    // The window sums slide: the same as summed afresh under the same profile.
    const a = inc.anomalies.find((x) => x.id === 'F4-R3')!;
    const b = ref.anomalies.find((x) => x.id === 'F4-R3')!;
    expect(a.expectedFrom).toBe(b.expectedFrom);
    expect(a.expected.length).toBe(b.expected.length);
    expect(a.zeroShare).toBe(b.zeroShare);
    expect(a.peerRatio).toBeCloseTo(b.peerRatio, 2);
  });
});
