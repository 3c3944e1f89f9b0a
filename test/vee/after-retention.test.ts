import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb, type BackofficeDb } from '../../services/platform/db.ts';
import { parseVeeConfig } from '../../services/metering/vee/config.ts';
import { Vee } from '../../services/metering/vee/service.ts';
import { buildReadings, DORM, parseTime as t } from './harness.ts';

/**
 * After retention has deleted a meter's old raw readings, VEE must not take their absence for a
 * meter that did not exist yet ('no-meter-yet'), nor re-validate the day into gaps or estimates. A
 * day past raw retention keeps the versions validated (and pinned) while its readings were there;
 * a day never validated is given its consumption from the 15-minute roll-ups (kept for ever),
 * flagged 'raw-retired'; a day the meter was silent stays a gap: never an estimate, never a zero.
 *
 * The real path: readings in a SqliteStore, VEE reading raw readings from that store (as
 * campusVee does), the store's own applyRetention.
 */

const TZ = 'Asia/Shanghai';
const METER = 'E-OLD-1';
const NOW = t('2026-12-01T09:00+08:00');
const day = (iso: string) => t(`${iso}T00:00+08:00`);
/** Recomputed from the profile: four quarter hours an hour, from local hour `from` on. */
const hours = (from: number) => DORM.slice(from).reduce((a, kwh) => a + 4 * kwh, 0);

const open: { store: SqliteStore; db: BackofficeDb }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.store.close();
    o.db.close();
  }
});

async function yearOfReadings() {
  // The meter's first reading is at 10:00 on 1 December 2025; it is silent all of 10 March 2026.
  const readings = buildReadings({
    description: 'a year of a dorm meter',
    timezone: TZ,
    now: '2026-12-01T09:00+08:00',
    meters: { [METER]: 'electricity' },
    generate: [
      {
        meter: METER,
        from: '2025-12-01T10:00+08:00',
        to: '2026-12-01T09:00+08:00',
        start: 100,
        per: DORM,
        skip: [['2026-03-10T00:00+08:00', '2026-03-11T00:00+08:00']],
      },
    ],
    query: { meter: METER, quantity: 'energy_import_kwh', from: '', to: '', step: '1d' },
  });
  const store = SqliteStore.open({ path: ':memory:' });
  await store.writeReadings(readings);
  // Closed days into chunks now (the store does it after writes, a few at a time).
  store.compact();
  const db = openBackofficeDb(':memory:');
  open.push({ store, db });
  const audit = new AuditLog(db, () => NOW);
  const vee = new Vee({
    store,
    raw: { readings: (m, from, to) => store.readings(m, from, to) },
    db,
    audit,
    config: parseVeeConfig({}),
    timezone: TZ,
    kindOf: () => 'electricity',
    clock: () => NOW,
  });
  const days = (from: string, to: string) =>
    vee.intervals({ meter: METER, quantity: 'energy_import_kwh', from: day(from), to: day(to), step: '1d' });
  const versionsBefore = (ts: number) =>
    (db.prepare('SELECT count(*) AS n FROM vee_interval_versions WHERE start < ?').get(ts) as { n: number })
      .n;
  return { store, vee, days, versionsBefore };
}

describe('VEE after raw retention', () => {
  it('a retired day is not "no meter yet": it has its roll-ups consumption, flagged raw-retired', async () => {
    const { store, vee, days, versionsBefore } = await yearOfReadings();
    // Billing validated and pinned 10 January while its raw readings were there.
    const [billed] = await days('2026-01-10', '2026-01-11');
    expect(billed!.value).toBeCloseTo(hours(0), 6);
    await vee.pin('BR-2026-01', [billed!]);
    const recorded = versionsBefore(day('2026-10-01'));

    // 30 days of raw readings kept; no hold (every day up to the horizon counts as validated here).
    const gone = store.applyRetention({ now: NOW, rawDays: 30, holds: [] });
    expect(gone.readings).toBeGreaterThan(30_000);
    expect(await store.readings(METER, day('2025-11-01'), day('2026-10-31'))).toEqual([]);

    // The meter's third day: its raw readings are gone, the meter existed.
    const [third] = await days('2025-12-03', '2025-12-04');
    const rules = third!.flags.map((f) => f.rule);
    expect(rules).not.toContain('no-meter-yet');
    expect(rules).toContain('raw-retired');
    expect(third!.flags.find((f) => f.rule === 'raw-retired')!.severity).toBe('info');
    expect(third!.value).toBeCloseTo(hours(0), 6);
    expect(third!.source).toBe('actual');
    expect(third!.estimatedValue ?? 0).toBe(0);

    // The billed day keeps its pinned value and bill run.
    const [again] = await days('2026-01-10', '2026-01-11');
    expect(again!.value).toBe(billed!.value);
    expect(again!.billedIn).toBe('BR-2026-01');
    expect(again!.version).toBe(billed!.version);
    expect(again!.flags.map((f) => f.rule)).toContain('raw-retired');
    expect(again!.flags.find((f) => f.rule === 'raw-retired')!.reason).toMatch(
      /96 of 96 intervals as validated before \(billed in BR-2026-01\), 0 from the 15-minute roll-ups/,
    );

    // A day in the middle of the year, never validated: the roll-ups' consumption.
    const [june] = await days('2026-06-15', '2026-06-16');
    expect(june!.value).toBeCloseTo(hours(0), 6);
    expect(june!.flags.map((f) => f.rule)).toEqual(['raw-retired']);
    expect(june!.flags[0]!.reason).toMatch(
      /0 of 96 intervals as validated before, 96 from the 15-minute roll-ups/,
    );
    // The same day in 15-minute intervals: the roll-ups' quarter hours, each flagged, none recorded.
    const quarters = await vee.intervals({
      meter: METER,
      quantity: 'energy_import_kwh',
      from: day('2026-06-15'),
      to: day('2026-06-16'),
      step: '15m',
    });
    expect(quarters).toHaveLength(96);
    expect(quarters[0]!.value).toBeCloseTo(DORM[0]!, 6);
    expect(quarters[95]!.value).toBeCloseTo(DORM[23]!, 6);
    expect(quarters.every((q) => q.version === 0 && q.flags[0]!.rule === 'raw-retired')).toBe(true);
    // A bill run cannot pin it (its roll-up intervals are not validated versions), and says why.
    await expect(vee.pin('BR-LATE', [june!])).rejects.toMatchObject({
      code: 'VEE_RAW_RETIRED',
      message: expect.stringMatching(/past raw retention and was never validated/),
    });
    // The day validated before retention still pins (a second run over it, as a correction would).
    await vee.pin('BR-2026-01-B', [again!]);

    // The day the meter was silent: a gap, not an estimate and not a zero.
    const [silent] = await days('2026-03-10', '2026-03-11');
    expect(silent!.value).toBeNull();
    expect(silent!.source).toBe('actual');
    expect(silent!.flags.map((f) => f.rule)).toContain('raw-retired');

    // Nothing was re-validated into the retired span: no version recorded there since.
    expect(versionsBefore(day('2026-10-01'))).toBe(recorded);
  });

  it('the days around retention: before the first reading still "no meter yet", after the horizon validated as before', async () => {
    const { store, days } = await yearOfReadings();
    store.applyRetention({ now: NOW, rawDays: 30, holds: [] });

    const [before, first] = await days('2025-11-30', '2025-12-02');
    expect(before!.value).toBeNull();
    expect(before!.flags.map((f) => f.rule)).toEqual(['no-meter-yet']);
    // The first day counts from the first reading, from the roll-ups.
    expect(first!.value).toBeCloseTo(hours(10), 6);
    expect(first!.flags.map((f) => f.rule)).toEqual(expect.arrayContaining(['no-meter-yet', 'raw-retired']));

    // Raw readings are kept from 1 November (UTC whole days): days after are validated from them.
    const recent = await days('2026-11-20', '2026-11-23');
    expect(recent).toHaveLength(3);
    for (const d of recent) {
      expect(d.value).toBeCloseTo(hours(0), 6);
      expect(d.flags.map((f) => f.rule)).not.toContain('raw-retired');
      expect(d.flags.filter((f) => f.severity === 'fail')).toEqual([]);
    }
  });

  it('a window across the retention horizon: the day it cuts is whole, roll-ups then raw readings', async () => {
    const { store, days } = await yearOfReadings();
    const r = store.applyRetention({ now: NOW, rawDays: 30, holds: [] });
    expect(r.chunks).toBeGreaterThan(0);
    // Retention cuts at a UTC midnight, 08:00 local: 1 November is half roll-ups, half raw.
    const raw = await store.readings(METER, day('2026-10-01'), day('2026-11-30'));
    expect(raw[0]!.ts).toBe(t('2026-11-01T08:00+08:00'));
    const span = await days('2026-10-30', '2026-11-03');
    expect(span.map((d) => d.value)).toEqual(span.map(() => expect.closeTo(hours(0), 6)));
    expect(span.map((d) => d.flags.some((f) => f.rule === 'raw-retired'))).toEqual([true, true, true, false]);
    expect(span.flatMap((d) => d.flags).filter((f) => f.severity === 'fail')).toEqual([]);
  });
});
