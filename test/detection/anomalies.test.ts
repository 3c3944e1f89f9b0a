import { beforeAll, describe, expect, it } from 'vitest';
import { detectInput, type EngineResult } from '../../services/detection/engine.ts';
import { SlotStore, buildTopology, FLAG } from '../../services/detection/series.ts';
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
