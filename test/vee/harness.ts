import { SqliteStore } from '../../adapters/sqlite/store.ts';
import type { Reading } from '../../config/schemas/reading.ts';
import type { Quantity } from '../../config/schemas/quantities.ts';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb, type BackofficeDb } from '../../services/platform/db.ts';
import { wallClock, zoneOffset } from '../../services/metering/consumption/zone.ts';
import type { Installation, MeterKind, StoredReading } from '../../services/metering/storage.ts';
import { parseVeeConfig } from '../../services/metering/vee/config.ts';
import { Vee, type RawReadingSource } from '../../services/metering/vee/service.ts';

/**
 * Builds a VEE over a real SQLite reading store and back-office db from a compact description:
 * generated series (a register rising by a fixed or hourly profile) plus explicit readings.
 */

const MINUTE = 60_000;

export interface GenerateSpec {
  meter: string;
  /** The quantity generated; the register of the meter's kind when absent. */
  quantity?: Quantity;
  from: string;
  /** Exclusive. */
  to: string;
  everyMin?: number;
  /** Register value at `from` (cumulative quantities), or the constant value (others). */
  start: number;
  /** Consumption per reading interval: one number, or 24 numbers by local hour of the interval's start. */
  per?: number | number[];
  /** [from, to) ranges with no readings. */
  skip?: [string, string][];
}

export interface ExplicitReading {
  meter: string;
  ts: string;
  values: Partial<Record<Quantity, number>>;
  /** Arrival: right after the reading (of the same meter) at this ts; by default in ts order. */
  arrivedAfter?: string;
  deviceTs?: string;
  flags?: string[];
  quality?: Reading['quality'];
}

export interface CaseInput {
  description: string;
  timezone: string;
  now: string;
  meters: Record<string, MeterKind>;
  installations?: (Omit<Installation, 'installedAt' | 'removedAt'> & {
    installedAt: string;
    removedAt?: string;
  })[];
  config?: unknown;
  generate?: GenerateSpec[];
  readings?: ExplicitReading[];
  query: { meter: string; quantity: string; from: string; to: string; step: '15m' | '1d' };
}

const REGISTER: Record<MeterKind, Quantity> = {
  electricity: 'energy_import_kwh',
  water: 'volume_m3',
  heat: 'heat_kwh',
};

const t = (s: string): number => {
  const v = Date.parse(s);
  if (Number.isNaN(v)) throw new Error(`bad time ${s}`);
  return v;
};

/** `2026-03-10T08:15+08:00` in the case's zone. */
export function localIso(ts: number, tz: string): string {
  const w = wallClock(ts, tz);
  const off = zoneOffset(ts, tz) / MINUTE;
  const p = (n: number) => String(n).padStart(2, '0');
  const sign = off >= 0 ? '+' : '-';
  return `${w.year}-${p(w.month)}-${p(w.day)}T${p(w.hour)}:${p(w.minute)}${sign}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
}

export function buildReadings(input: CaseInput): StoredReading[] {
  // (meter, ts) → values, from every generator.
  const gen = new Map<string, Map<number, Partial<Record<Quantity, number>>>>();
  for (const g of input.generate ?? []) {
    const kind = input.meters[g.meter];
    if (!kind) throw new Error(`generate: unknown meter ${g.meter}`);
    const q = g.quantity ?? REGISTER[kind];
    const every = (g.everyMin ?? 15) * MINUTE;
    const skips = (g.skip ?? []).map(([a, b]) => [t(a), t(b)] as const);
    const own = gen.get(g.meter) ?? new Map();
    gen.set(g.meter, own);
    let value = g.start;
    for (let ts = t(g.from); ts < t(g.to); ts += every) {
      if (!skips.some(([a, b]) => ts >= a && ts < b))
        own.set(ts, { ...own.get(ts), [q]: Math.round(value * 1e6) / 1e6 });
      const per = g.per ?? 0;
      value += Array.isArray(per) ? per[wallClock(ts, input.timezone).hour]! : per;
    }
  }
  const out: StoredReading[] = [];
  for (const [meter, byTs] of gen) {
    const kind = input.meters[meter]!;
    [...byTs.keys()]
      .sort((a, b) => a - b)
      .forEach((ts, i) => {
        out.push({
          meter,
          ts,
          seq: (i + 1) * 10,
          quality: 'good',
          values: byTs.get(ts)!,
          site: 's',
          gateway: 'g',
          kind,
        });
      });
  }
  const used = new Set(out.map((r) => `${r.meter}/${r.seq}`));
  for (const e of input.readings ?? []) {
    const kind = input.meters[e.meter]!;
    const ts = t(e.ts);
    const anchorTs = e.arrivedAfter ? t(e.arrivedAfter) : ts;
    const before = out.filter((r) => r.meter === e.meter && r.ts <= anchorTs && r.seq % 10 === 0);
    let seq = before.length ? Math.max(...before.map((r) => r.seq)) + 1 : 1;
    while (used.has(`${e.meter}/${seq}`)) seq++;
    used.add(`${e.meter}/${seq}`);
    out.push({
      meter: e.meter,
      ts,
      seq,
      quality: e.quality ?? 'good',
      values: e.values,
      ...(e.deviceTs ? { deviceTs: t(e.deviceTs) } : {}),
      ...(e.flags ? { flags: e.flags } : {}),
      site: 's',
      gateway: 'g',
      kind,
    });
  }
  return out;
}

export interface Built {
  vee: Vee;
  db: BackofficeDb;
  audit: AuditLog;
  store: SqliteStore;
  readings: StoredReading[];
  clock: { now: number };
  close(): Promise<void>;
}

/**
 * A raw source over the same readings the store holds, in arrival (seq) order; the store's own
 * ReadingStore.readings answers in ts order, which VEE re-sorts by seq (the golden cases pass on both).
 */
export function rawSource(readings: StoredReading[]): RawReadingSource {
  return {
    async readings(meter, from, to) {
      return readings
        .filter((r) => r.meter === meter && r.ts >= from && r.ts < to)
        .sort((a, b) => a.seq - b.seq);
    },
  };
}

export async function build(input: CaseInput): Promise<Built> {
  const store = SqliteStore.open({ path: ':memory:' });
  const readings = buildReadings(input);
  await store.writeReadings(readings);
  const db = openBackofficeDb(':memory:');
  const clock = { now: t(input.now) };
  const audit = new AuditLog(db, () => clock.now);
  const installations: Installation[] = (input.installations ?? []).map(({ removedAt, ...i }) => ({
    ...i,
    installedAt: t(i.installedAt),
    ...(removedAt !== undefined ? { removedAt: t(removedAt) } : {}),
  }));
  const vee = new Vee({
    store,
    raw: rawSource(readings),
    db,
    audit,
    config: parseVeeConfig(input.config),
    timezone: input.timezone,
    kindOf: (m) => input.meters[m],
    installations: (m) => installations.filter((i) => i.meter === m),
    clock: () => clock.now,
  });
  return {
    vee,
    db,
    audit,
    store,
    readings,
    clock,
    async close() {
      await store.close();
      db.close();
    },
  };
}

export { t as parseTime };

/** A dorm room's consumption per 15 min, by local hour. */
export const DORM = [
  0.02, 0.018, 0.016, 0.015, 0.014, 0.016, 0.03, 0.06, 0.05, 0.04, 0.045, 0.07, 0.09, 0.08, 0.06, 0.05, 0.055,
  0.08, 0.11, 0.13, 0.15, 0.12, 0.09, 0.05,
];
export const DORM_METER = 'E-DORM-201';

/** A dorm meter with 4 weeks of history, silent from 09:00 on 10 March 2026; now is 12:00. */
export function silentDormMeter(): CaseInput {
  return {
    description: 'silent since 09:00',
    timezone: 'Asia/Shanghai',
    now: '2026-03-10T12:00+08:00',
    meters: { [DORM_METER]: 'electricity' },
    config: { classes: [{ name: 'dorm-room', prefixes: ['E-DORM-'], thresholds: { maxCurrentA: 10 } }] },
    generate: [
      {
        meter: DORM_METER,
        from: '2026-02-09T00:00+08:00',
        to: '2026-03-10T09:01+08:00',
        start: 500,
        per: DORM,
      },
    ],
    query: {
      meter: DORM_METER,
      quantity: 'energy_import_kwh',
      from: '2026-03-10T08:00+08:00',
      to: '2026-03-10T12:00+08:00',
      step: '15m',
    },
  };
}
