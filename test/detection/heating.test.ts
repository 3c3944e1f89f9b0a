import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitDegreeDays, heatingDetector } from '../../services/inspection/detection/heating.ts';
import type { DetectionInput, MeterData, Sample } from '../../services/inspection/detection/types.ts';
import {
  DAY,
  HOUR,
  MIN,
  campusScenario,
  renderInput,
  scenarioWeather,
  type Rendered,
} from './heating-loads-support.ts';

/** Adds hot-water draws to a stopped unit's heat meter: short, hot, and a few kWh a day. */
function withHotWater(input: DetectionInput, meter: string): DetectionInput {
  const m = input.meters.get(meter)!;
  const flow = m.series.flow_m3h!.map((s) => ({ ...s }));
  const supply = m.series.supply_c!.map((s) => ({ ...s }));
  const ret = m.series.return_c!.map((s) => ({ ...s }));
  const register: Sample[] = [];
  let added = 0;
  m.register.forEach((s, i) => {
    const local = (s.ts + 8 * HOUR) % DAY;
    // 07:00, 12:30 and 21:00 local: a 15-minute draw of 0.25 m³/h heated by 30 K.
    const draw = [7 * HOUR, 12.5 * HOUR, 21 * HOUR].some((h) => local >= h && local < h + 15 * MIN);
    if (draw && i < flow.length) {
      flow[i]!.value = 0.25;
      supply[i]!.value = 55;
      ret[i]!.value = 25;
    }
    if (i > 0 && draw) added += 0.25 * 30 * 1.163 * ((s.ts - m.register[i - 1]!.ts) / HOUR);
    register.push({ ts: s.ts, value: s.value + added });
  });
  const meters = new Map(input.meters);
  meters.set(meter, {
    ...m,
    register,
    series: { ...m.series, flow_m3h: flow, supply_c: supply, return_c: ret },
  });
  return { ...input, meters };
}

describe('heat used while registered stopped (rendered scenario, 15 min readings)', () => {
  let r: Rendered;
  beforeAll(async () => {
    const scenario = campusScenario({
      rooms: 1,
      households: 3,
      stopped: {
        HU1: [{ from: '2026-11-01T00:00:00+08:00' }],
        HU3: [{ from: '2026-11-01T00:00:00+08:00' }],
      },
      injections: [
        { type: 'heating-while-stopped', node: 'HU1', from: '+1d', to: '+2d6h', note: 'valve reopened' },
      ],
    });
    r = await renderInput(scenario, { days: 3, stepMs: 15 * MIN });
  });
  afterAll(() => r.store.close());

  it('flags the stopped unit that heats, not the one registered on, not hot water only', () => {
    const input = withHotWater(r.input, 'H-HU3');
    const hu3 = input.meters.get('H-HU3')!;
    // The hot-water draws are real: flow with a large ΔT, a few kWh a day.
    expect(hu3.series.flow_m3h!.some((s) => s.value > 0.2)).toBe(true);
    const { findings, scores } = heatingDetector().run(input);
    const heat = findings.filter((f) => f.type === 'unauthorized-heating');
    expect(heat.map((f) => f.meter)).toEqual(['H-HU1']);
    const f = heat[0]!;
    expect(f.key).toBe('unauthorized-heating:H-HU1');
    expect(f.evidence.figures.longestRunHours).toBeGreaterThanOrEqual(24);
    expect(f.evidence.figures.meanDeltaK).toBeGreaterThan(5);
    expect(f.evidence.figures.maxDayKwh).toBeGreaterThan(10);
    expect(f.evidence.figures.confirmedBy).toBe('wang.fang; zhao.lei');
    expect(f.since).toBeGreaterThanOrEqual(r.scenario.start + DAY);
    expect(f.since).toBeLessThanOrEqual(r.scenario.start + DAY + 15 * MIN);
    expect(scores.find((s) => s.id === 'H-HU2')).toMatchObject({
      alert: false,
      reason: 'heating registered on',
    });
    const hot = scores.find((s) => s.id === 'H-HU3')!;
    expect(hot.alert).toBe(false);
    expect(hot.reason).toMatch(/hot water/);
  });

  it('a unit registered on again after its stop is judged only while it was stopped', () => {
    const heating = [
      ...(r.input.heating ?? []).filter((h) => h.meter !== 'H-HU1'),
      {
        meter: 'H-HU1',
        state: 'stopped' as const,
        from: r.scenario.start - 30 * DAY,
        to: r.scenario.start + DAY,
      },
    ];
    const { findings } = heatingDetector().run({ ...r.input, heating });
    expect(findings.filter((f) => f.type === 'unauthorized-heating')).toEqual([]);
  });
});

describe('electric heating by degree days', () => {
  it('fits kWh = a + b·HDD (+ weekend) exactly on exact data', () => {
    const rows = Array.from({ length: 20 }, (_, i) => ({
      hdd: i % 7,
      weekend: i % 7 >= 5,
      kwh: 3 + 0.7 * (i % 7) + (i % 7 >= 5 ? 1 : 0),
    }));
    const fit = fitDegreeDays(rows)!;
    expect(fit.intercept).toBeCloseTo(3, 6);
    expect(fit.slope).toBeCloseTo(0.7, 6);
  });

  let r: Rendered;
  beforeAll(async () => {
    // Late autumn: the weather cools, so degree days vary. Room R2 starts an electric heater for
    // the last two weeks, on longer the colder the day (0.8 kWh per degree day).
    const start = Date.parse('2026-10-20T00:00:00+08:00');
    const days = 42;
    const weather = scenarioWeather(campusScenario({}), start, start + days * DAY);
    const injections = [];
    for (let d = days - 14; d < days; d++) {
      const temps = weather.slice(d * 24, d * 24 + 24).map((w) => w.outdoorC);
      const hdd = Math.max(0, 15.5 - temps.reduce((s, x) => s + x, 0) / temps.length);
      const hours = Math.min(10, 0.8 * hdd);
      if (hours <= 0) continue;
      injections.push({
        type: 'heater' as const,
        node: 'R2',
        kw: 1,
        from: start + d * DAY + 12 * HOUR,
        to: start + d * DAY + 12 * HOUR + Math.round(hours * 60) * MIN,
      });
    }
    const scenario = campusScenario({ rooms: 6, start: '2026-10-20T00:00:00+08:00', injections });
    r = await renderInput(scenario, { days, stepMs: HOUR, weather: true, physicsStep: 15 * MIN });
  });
  afterAll(() => r.store.close());

  it('flags the room whose degree-day slope jumps against its own history, and no other', () => {
    const { findings, scores } = heatingDetector().run(r.input);
    const electric = findings.filter((f) => f.key.startsWith('electric-heating:'));
    expect(electric.map((f) => f.meter)).toEqual(['E-R2']);
    const fig = electric[0]!.evidence.figures;
    expect(fig.recentSlopeKwhPerK).toBeGreaterThan(0.5);
    expect(Number(fig.recentSlopeKwhPerK) - Number(fig.referenceSlopeKwhPerK)).toBeGreaterThan(0.4);
    expect(fig.reference).toBe('its own earlier slope');
    expect(fig).toHaveProperty('baselineCvRmsePct');
    // Every customer meter is scored; only R2 alerts.
    const rooms = scores.filter((s) => s.id.startsWith('E-R'));
    expect(rooms).toHaveLength(6);
    expect(rooms.filter((s) => s.alert).map((s) => s.id)).toEqual(['E-R2']);
  });

  it('without weather there is no degree-day judgement', () => {
    const noWeather: DetectionInput = { ...r.input };
    delete (noWeather as { weather?: unknown }).weather;
    expect(heatingDetector().run(noWeather).findings).toEqual([]);
  });

  it('compares with peers when a meter has no history of its own', () => {
    const cut = r.scenario.start + 28 * DAY;
    const meters = new Map<string, MeterData>();
    for (const [id, m] of r.input.meters)
      meters.set(id, { ...m, register: m.register.filter((s) => s.ts >= cut - HOUR) });
    const { findings } = heatingDetector().run({ ...r.input, meters });
    const f = findings.find((x) => x.meter === 'E-R2');
    expect(f?.evidence.figures.reference).toBe('the median of its peers');
  });
});
