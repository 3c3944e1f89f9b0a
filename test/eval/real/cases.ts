import { ATTACKS, jokar, type AttackType } from '../../detection/support.ts';
import { attackDays, type Campus } from './campus.ts';
import { type RealData } from './data.ts';

/**
 * The seeded cases injected into a real campus. Each returns the labels the figures need. Onsets
 * are anywhere from 3 to 120 days before the end, so a theft may be long inside any baseline.
 */

export interface Labels {
  /** Meter → attack (Jokar h1–h6, `under`, `bypass`, `small`). */
  thief: Map<string, string>;
  /** Feeder → its thief's meter. */
  thiefOf: Map<string, string>;
  /** Meter → drift (negative share) on an innocent feeder. */
  drift: Map<string, number>;
  heater: Map<string, number>;
  fault: Map<string, 'stop' | 'backwards' | 'silent'>;
  /**
   * Faulty meter → hours with a reading while its fault lasts. The real data has gaps (hours the
   * publisher had no value for): a stop that falls inside one sends no reading at all, and no
   * detector can tell it from a silent meter.
   */
  faultReadings: Map<string, number>;
  /** Drifting meter → how much its drift moves its feeder's unexplained share at the end. */
  driftMove: Map<string, number>;
  /** Meter → grid hour its case starts (thefts, drifts, heaters). */
  onset: Map<string, number>;
  /** Feeders nobody touched. */
  clean: Set<string>;
  /** Meter → grid hour its theft ended (a theft caught, or given up, before the data's end). */
  ended: Map<string, number>;
}

const emptyLabels = (): Labels => ({
  thief: new Map(),
  thiefOf: new Map(),
  drift: new Map(),
  heater: new Map(),
  fault: new Map(),
  faultReadings: new Map(),
  onset: new Map(),
  driftMove: new Map(),
  clean: new Set(),
  ended: new Map(),
});

const onsetHour = (c: Campus, minDays = 3, maxDays = 120): number =>
  c.endHour - Math.round((minDays + (maxDays - minDays) * c.rand()) * 24);

/**
 * Every other feeder (the 1st, 3rd…) gets the case on one of its buildings, drawn at random, the
 * rest are clean: each case has thief and clean feeders alike in every campus.
 */
function onEveryOtherFeeder(
  c: Campus,
  l: Labels,
  each: (f: Campus['feeders'][number], copy: Campus['feeders'][number]['copies'][number]) => void,
): void {
  c.feeders.forEach((f, i) => {
    if (i % 2 === 1) {
      l.clean.add(f.id);
      return;
    }
    each(f, f.copies[Math.floor(c.rand() * f.copies.length)]!);
  });
}

/** Jokar h1–h6 on about 15 % of the building meters (at least two), types in turn. */
export function jokarCase(c: Campus, firstType: number): Labels {
  const l = emptyLabels();
  const all = c.feeders.flatMap((f) => f.copies);
  const n = Math.max(2, Math.round(0.15 * all.length));
  const chosen = [...all].sort(() => c.rand() - 0.5).slice(0, n);
  chosen.forEach((copy, i) => {
    const type: AttackType = ATTACKS[(firstType + i) % ATTACKS.length]!;
    const from = onsetHour(c);
    attackDays(copy, from, c.endHour, jokar(type, c.rand));
    l.thief.set(copy.meter, type);
    l.onset.set(copy.meter, from);
    l.thiefOf.set(copy.feeder, copy.meter);
  });
  for (const f of c.feeders) if (!l.thiefOf.has(f.id)) l.clean.add(f.id);
  return l;
}

/**
 * One under-reporting building on every other feeder: a factor 0.5–0.9 (or exactly `factor`), or
 * a bypass of part of its load (a circuit of 10–40 % of its mean load taken off the meter).
 */
export function underReportCase(c: Campus, factor?: number): Labels {
  const l = emptyLabels();
  onEveryOtherFeeder(c, l, (f, copy) => {
    const from = onsetHour(c);
    if (factor === undefined && c.rand() < 1 / 3) {
      let s = 0;
      let n = 0;
      for (const v of copy.reported) {
        if (v !== v) continue;
        s += v;
        n++;
      }
      const circuit = (0.1 + 0.3 * c.rand()) * (s / Math.max(1, n));
      attackDays(copy, from, c.endHour, (x) => x.map((v) => Math.max(0, v - circuit)));
      l.thief.set(copy.meter, 'bypass');
    } else {
      const k = factor ?? 0.5 + 0.4 * c.rand();
      attackDays(copy, from, c.endHour, (x) => x.map((v) => v * k));
      l.thief.set(copy.meter, factor === undefined ? 'under' : 'small');
    }
    l.thiefOf.set(f.id, copy.meter);
    l.onset.set(copy.meter, from);
  });
  return l;
}

/**
 * A theft that ended: on every other feeder one building registers 50–90 % of its use from 60–150
 * days before the end until 14–45 days before it, then all of it again (the meter was mended, the
 * tenant left). Its months of loss are history, not a loss going on.
 */
export function endedTheftCase(c: Campus): Labels {
  const l = emptyLabels();
  onEveryOtherFeeder(c, l, (f, copy) => {
    const from = onsetHour(c, 60, 150);
    const to = c.endHour - Math.round((14 + 31 * c.rand()) * 24);
    const k = 0.5 + 0.4 * c.rand();
    attackDays(copy, from, to, (x) => x.map((v) => v * k));
    l.thief.set(copy.meter, 'ended');
    l.thiefOf.set(f.id, copy.meter);
    l.onset.set(copy.meter, from);
    l.ended.set(copy.meter, to);
  });
  return l;
}

/** On every other feeder one building meter drifts by −1 to −3 % over the last 60 days. */
export function driftCase(c: Campus): Labels {
  const l = emptyLabels();
  onEveryOtherFeeder(c, l, (f, copy) => {
    const drift = -(0.01 + 0.02 * c.rand());
    copy.drift = { fromHour: c.endHour - 60 * 24, drift };
    l.drift.set(copy.meter, drift);
    // Its share of the feeder's energy over the drift's last week, times the drift.
    let own = 0;
    let all = 0;
    for (let h = c.endHour - 7 * 24; h < c.endHour; h++) {
      own += copy.truth[h]!;
      for (const x of f.copies) all += x.truth[h]!;
    }
    l.driftMove.set(copy.meter, (Math.abs(drift) * own) / Math.max(all, 1e-9));
    l.onset.set(copy.meter, copy.drift.fromHour);
  });
  return l;
}

/**
 * Electric heaters in about a quarter of the buildings (none registered with electric heating),
 * drawing with the cold (∝ max(0, 15.5 °C − outdoor)) from 14–45 days before the end, sized to
 * add `level` to the building's consumption over that period.
 */
export function heaterCase(c: Campus, data: RealData, level: number): Labels {
  const l = emptyLabels();
  for (const f of c.feeders) {
    let touched = false;
    for (const copy of f.copies) {
      if (c.rand() >= 0.25) continue;
      const from = c.endHour - Math.round((14 + 31 * c.rand()) * 24);
      let use = 0;
      let hdh = 0;
      for (let h = from; h < c.endHour; h++) {
        const t = data.temperature[h]!;
        use += copy.reported[h] === copy.reported[h] ? copy.reported[h]! : copy.truth[h]!;
        if (t === t) hdh += Math.max(0, 15.5 - t);
      }
      if (hdh < 24) continue;
      const k = (level * use) / hdh;
      for (let h = from; h < c.endHour; h++) {
        const t = data.temperature[h]!;
        const add = t === t ? k * Math.max(0, 15.5 - t) : 0;
        copy.truth[h]! += add;
        if (copy.reported[h] === copy.reported[h]) copy.reported[h]! += add;
      }
      l.heater.set(copy.meter, level);
      l.onset.set(copy.meter, from);
      touched = true;
    }
    if (!touched) l.clean.add(f.id);
  }
  return l;
}

/** Per feeder one meter that stops, runs backwards or goes silent (the fourth feeder: none). */
export function faultCase(c: Campus): Labels {
  const l = emptyLabels();
  const types = ['stop', 'backwards', 'silent'] as const;
  c.feeders.forEach((f, i) => {
    const type = types[i % 4];
    if (!type) {
      l.clean.add(f.id);
      return;
    }
    const copy = f.copies[Math.floor(c.rand() * f.copies.length)]!;
    const hours = type === 'backwards' ? 6 + Math.floor(42 * c.rand()) : Math.round((1 + 4 * c.rand()) * 24);
    copy.fault = { type, fromHour: c.endHour - hours };
    l.fault.set(copy.meter, type);
    let readings = 0;
    for (let h = copy.fault.fromHour; h < c.endHour; h++)
      if (copy.reported[h] === copy.reported[h]) readings++;
    l.faultReadings.set(copy.meter, readings);
  });
  return l;
}

export function cleanCase(c: Campus): Labels {
  const l = emptyLabels();
  for (const f of c.feeders) l.clean.add(f.id);
  return l;
}
