import type { NodeBalance } from './balance.ts';
import type { MeterAnomaly } from './meter-anomalies.ts';
import type { SlotStore } from './series.ts';
import type { Finding } from './types.ts';

/**
 * Every finding of the engine made checkable: the model its expectation comes from, the energy
 * expected and seen over the finding's period, and daily seen/expected series (from two weeks
 * before `since`) for a chart. Expectations: a meter's baseline profile (its own weekday/weekend ×
 * hour-of-day use), or for a lasting change the energy its pre-onset ratio to its peers implies;
 * a node's Σ downstream meters plus its technical-loss band.
 */

const round = (x: number): number => Math.round(x * 1000) / 1000;
const CHART_LEAD_DAYS = 14;

/** Daily sums over [from, L) of seen and expected per slot (NaN slots left out of both). */
function daily(
  store: SlotStore,
  from: number,
  seenAt: (k: number) => number,
  expectedAt: (k: number) => number,
): { seen: [number, number][]; expected: [number, number][] } {
  const L = store.length;
  const seen: [number, number][] = [];
  const expected: [number, number][] = [];
  let day = -1;
  let s = 0;
  let e = 0;
  const flush = () => {
    if (day < 0) return;
    seen.push([store.slotStart(day), round(s)]);
    expected.push([store.slotStart(day), round(e)]);
  };
  for (let k = Math.max(0, from); k < L; k++) {
    const start = k - store.slotOfDay(k);
    if (start !== day) {
      flush();
      day = start;
      s = 0;
      e = 0;
    }
    const x = seenAt(k);
    const y = expectedAt(k);
    if (x === x && y === y) {
      s += x;
      e += y;
    }
  }
  flush();
  return { seen, expected };
}

function sums(from: number, L: number, seenAt: (k: number) => number, expectedAt: (k: number) => number) {
  let seen = 0;
  let expected = 0;
  for (let k = Math.max(0, from); k < L; k++) {
    const x = seenAt(k);
    const y = expectedAt(k);
    if (x === x && y === y) {
      seen += x;
      expected += y;
    }
  }
  return { seen, expected };
}

export function meterEvidence(f: Finding, store: SlotStore, a: MeterAnomaly, unit: string): void {
  const v = store.values[a.meter]!;
  const seenAt = (k: number) => v[k]!;
  const expectedAt = (k: number) => {
    const j = k - a.expectedFrom;
    return j >= 0 && j < a.expected.length ? a.expected[j]! : Number.NaN;
  };
  const from = Math.max(0, store.slotAt(f.since));
  const lead = from - CHART_LEAD_DAYS * store.slotsPerDay;
  const ev = f.evidence;
  ev.unit = unit;
  if (ev.figures.expectedSince !== undefined) {
    // A lasting change: the expectation is the pre-onset ratio to the peers (long-memory).
    ev.model ??= String(ev.figures.model);
    ev.expected = Number(ev.figures.expectedSince);
    ev.seen = Number(ev.figures.seenSince);
  } else {
    ev.model ??=
      "the meter's own baseline profile (weekday/weekend × hour of day, the 28 days before the window)";
    const s = sums(from, store.length, seenAt, expectedAt);
    ev.expected = round(s.expected);
    ev.seen = round(s.seen);
  }
  const d = daily(store, Math.max(lead, a.expectedFrom), seenAt, expectedAt);
  ev.series = [
    ...(ev.series ?? []),
    { meter: a.id, quantity: 'daily_seen', points: d.seen },
    { meter: a.id, quantity: 'daily_expected_baseline', points: d.expected },
  ];
}

export function balanceEvidence(f: Finding, store: SlotStore, b: NodeBalance, unit: string): void {
  const seenAt = (k: number) => b.up[k]!;
  // Expected at the node meter: what its meters below registered plus the technical-loss band.
  const expectedAt = (k: number) => b.up[k]! - b.residual[k]!;
  const from = Math.max(0, store.slotAt(f.since));
  const to = Math.min(store.length, store.slotAt(f.evidence.to));
  const ev = f.evidence;
  ev.unit = unit;
  ev.model ??= `Σ the meters below ${b.id} + technical-loss band (c0 + c1·load + c2·load², ${b.band.learned ? 'learned from its history' : b.band.configured ? 'configured' : 'floors only'})`;
  let seen = 0;
  let expected = 0;
  for (let k = from; k < Math.max(to, from + 1) && k < store.length; k++) {
    const x = seenAt(k);
    const y = expectedAt(k);
    if (x === x && y === y) {
      seen += x;
      expected += y;
    }
  }
  ev.seen = round(seen);
  ev.expected = round(expected);
  const d = daily(store, from - CHART_LEAD_DAYS * store.slotsPerDay, seenAt, expectedAt);
  ev.series = [
    ...(ev.series ?? []),
    { meter: b.id, quantity: 'daily_seen', points: d.seen },
    { meter: b.id, quantity: 'daily_expected_downstream_plus_band', points: d.expected },
  ];
}
