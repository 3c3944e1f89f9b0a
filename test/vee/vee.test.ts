import { describe, expect, it } from 'vitest';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { classOf, parseVeeConfig, thresholdsFor } from '../../services/metering/vee/config.ts';
import { VEE_ERRORS } from '../../services/metering/vee/errors.ts';
import { build, DORM_METER, parseTime, silentDormMeter } from './harness.ts';

const METER = DORM_METER;
const Q = 'energy_import_kwh' as const;
const T = (hhmm: string) => parseTime(`2026-03-10T${hhmm}+08:00`);

const supervisor: Actor = { id: 'zhao.min', kind: 'user', roles: ['supervisor'] };
const clerk: Actor = { id: 'li.wei', kind: 'user', roles: ['clerk'] };
const token: Actor = { id: 'token:job', kind: 'token', roles: ['supervisor'], scopes: ['readings.edit'] };

const silentMeter = silentDormMeter;

/** The late readings 09:15 to 12:00 that continue the register. */
function lateReadings(readings: StoredReading[]): StoredReading[] {
  const last = readings
    .filter((r) => r.meter === METER)
    .sort((a, b) => a.ts - b.ts)
    .at(-1)!;
  const out: StoredReading[] = [];
  let value = last.values.energy_import_kwh!;
  for (let ts = last.ts + 15 * 60_000, seq = last.seq + 1; ts <= T('12:00'); ts += 15 * 60_000, seq++) {
    value += 0.03;
    out.push({ ...last, ts, seq, values: { energy_import_kwh: Math.round(value * 1e6) / 1e6 } });
  }
  return out;
}

const query = { meter: METER, quantity: Q, from: T('08:00'), to: T('12:00'), step: '15m' as const };

describe('estimates and late real reads', () => {
  it('a real read replaces an estimate as a new version; the estimate stays in the history', async () => {
    const b = await build(silentMeter());
    try {
      const first = await b.vee.intervals(query);
      const at0930 = first.find((i) => i.start === T('09:30'))!;
      expect(at0930).toMatchObject({ source: 'estimated', method: 'like-day', version: 1, value: 0.04 });

      const late = lateReadings(b.readings);
      b.readings.push(...late);
      await b.store.writeReadings(late);
      const second = await b.vee.intervals(query);
      expect(second.find((i) => i.start === T('09:30'))).toMatchObject({
        source: 'actual',
        version: 2,
        value: 0.03,
      });
      expect(second.every((i) => i.source === 'actual')).toBe(true);
      expect(b.vee.history(METER, Q, T('09:30')).map((v) => [v.version, v.source])).toEqual([
        [1, 'estimated'],
        [2, 'actual'],
      ]);
      // Measured intervals before the gap never changed.
      expect(second.find((i) => i.start === T('08:00'))!.version).toBe(1);
    } finally {
      await b.close();
    }
  });

  it('once billed, the pinned estimate stays current and the late read waits as a pending correction', async () => {
    const b = await build(silentMeter());
    try {
      const first = await b.vee.intervals(query);
      await b.vee.pin('2026-03-A', first);
      const late = lateReadings(b.readings);
      b.readings.push(...late);
      await b.store.writeReadings(late);

      const second = await b.vee.intervals(query);
      expect(second.find((i) => i.start === T('09:30'))).toMatchObject({
        source: 'estimated',
        version: 1,
        billedIn: '2026-03-A',
      });
      const pending = b.vee.pendingCorrections(METER, Q, T('08:00'), T('12:00'));
      expect(pending.map((p) => p.start)).toContain(T('09:30'));
      expect(pending.find((p) => p.start === T('09:30'))).toMatchObject({
        source: 'actual',
        version: 2,
        value: 0.03,
      });
      // Asking again adds no third version.
      await b.vee.intervals(query);
      expect(b.vee.history(METER, Q, T('09:30'))).toHaveLength(2);
      // A later bill run that pins the correction makes it current.
      await b.vee.pin('2026-03-B', pending);
      const third = await b.vee.intervals(query);
      expect(third.find((i) => i.start === T('09:30'))).toMatchObject({
        source: 'actual',
        version: 2,
        billedIn: '2026-03-B',
      });
      expect(b.audit.query({ action: 'vee.pin' })).toHaveLength(2);
    } finally {
      await b.close();
    }
  });

  it('a daily interval pins the day’s 15-min versions, refused if they changed since', async () => {
    const input = silentMeter();
    input.now = '2026-03-12T00:00+08:00';
    const b = await build(input);
    try {
      const dayQuery = {
        meter: METER,
        quantity: Q,
        from: T('00:00'),
        to: T('00:00') + 1,
        step: '1d' as const,
      };
      const [day] = await b.vee.intervals(dayQuery);
      expect(day).toMatchObject({ source: 'estimated', method: 'like-day' });
      const late = lateReadings(b.readings);
      b.readings.push(...late);
      await b.store.writeReadings(late);
      await b.vee.intervals(dayQuery);
      await expect(b.vee.pin('stale', [day!])).rejects.toMatchObject({ code: 'VEE_STALE_PIN' });
      const [fresh] = await b.vee.intervals(dayQuery);
      await b.vee.pin('2026-03', [fresh!]);
      const parts = await b.vee.intervals({ ...query, from: T('00:00'), to: T('00:00') + 86_400_000 });
      expect(parts).toHaveLength(96);
      expect(parts.every((p) => p.billedIn === '2026-03')).toBe(true);
    } finally {
      await b.close();
    }
  });
});

describe('editing', () => {
  it('a supervisor edit is a new version, attributed and audited in the same transaction; the original stays', async () => {
    const b = await build(silentMeter());
    try {
      const before = (await b.vee.intervals(query)).find((i) => i.start === T('09:30'))!;
      const { interval, current } = b.vee.edit(supervisor, {
        meter: METER,
        quantity: Q,
        start: T('09:30'),
        value: 0.035,
        reason: 'MANUAL_READ',
        note: 'two readers read 1347.2 at 09:45',
        expectedVersion: before.version,
      });
      expect(current).toBe(true);
      expect(interval).toMatchObject({
        source: 'edited',
        method: 'MANUAL_READ',
        editedBy: 'zhao.min',
        version: 2,
        value: 0.035,
      });
      expect(b.vee.history(METER, Q, T('09:30')).map((v) => [v.version, v.source, v.value])).toEqual([
        [1, 'estimated', 0.04],
        [2, 'edited', 0.035],
      ]);
      const [entry] = b.audit.query({ action: 'vee.edit' });
      expect(entry).toMatchObject({
        actor: 'zhao.min',
        before: { version: 1, value: 0.04, source: 'estimated', method: 'like-day' },
        after: { version: 2, value: 0.035, source: 'edited', method: 'MANUAL_READ', current: true },
        reason: 'MANUAL_READ: two readers read 1347.2 at 09:45',
      });
      expect(b.audit.verify().ok).toBe(true);
      // Recomputing does not override a person's edit.
      const again = await b.vee.intervals(query);
      expect(again.find((i) => i.start === T('09:30'))).toMatchObject({ source: 'edited', version: 2 });
      // The stored versions cannot be changed behind VEE's back.
      expect(() => b.db.prepare('UPDATE vee_interval_versions SET value = 0').run()).toThrow(/append-only/);
      expect(() => b.db.prepare('DELETE FROM vee_interval_versions').run()).toThrow(/append-only/);
    } finally {
      await b.close();
    }
  });

  it('refuses a non-supervisor, an API token, an unknown reason, a stale version, and leaves no trace', async () => {
    const b = await build(silentMeter());
    try {
      await b.vee.intervals(query);
      const edit = {
        meter: METER,
        quantity: Q,
        start: T('09:30'),
        value: 0.03,
        reason: 'METER_FAULT' as const,
        note: 'x',
      };
      expect(() => b.vee.edit(clerk, edit)).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }) as Error);
      expect(() => b.vee.edit(token, edit)).toThrow(
        expect.objectContaining({ code: 'PERSON_REQUIRED' }) as Error,
      );
      expect(() => b.vee.edit(supervisor, { ...edit, reason: 'BECAUSE' as 'METER_FAULT' })).toThrow(
        expect.objectContaining({ code: 'VEE_INVALID_EDIT' }) as Error,
      );
      expect(() => b.vee.edit(supervisor, { ...edit, expectedVersion: 7 })).toThrow(
        expect.objectContaining({ code: 'VEE_VERSION_CONFLICT' }) as Error,
      );
      expect(() => b.vee.edit(supervisor, { ...edit, start: T('12:00') + 86_400_000 })).toThrow(
        expect.objectContaining({ code: 'VEE_INTERVAL_NOT_FOUND' }) as Error,
      );
      expect(b.vee.history(METER, Q, T('09:30'))).toHaveLength(1);
      expect(b.audit.query({ action: 'vee.edit' })).toHaveLength(0);
    } finally {
      await b.close();
    }
  });

  it('an edit of a billed interval waits as a pending correction', async () => {
    const b = await build(silentMeter());
    try {
      await b.vee.pin('2026-03', await b.vee.intervals(query));
      const res = b.vee.edit(supervisor, {
        meter: METER,
        quantity: Q,
        start: T('09:30'),
        value: 0.03,
        reason: 'CUSTOMER_AGREED',
        note: 'objection 2026-17',
      });
      expect(res.current).toBe(false);
      expect((await b.vee.intervals(query)).find((i) => i.start === T('09:30'))).toMatchObject({
        version: 1,
        billedIn: '2026-03',
      });
      expect(b.vee.pendingCorrections(METER, Q, T('09:30'), T('09:45'))).toMatchObject([
        { source: 'edited', version: 2 },
      ]);
    } finally {
      await b.close();
    }
  });
});

describe('service', () => {
  it('is idempotent: asking twice, or for overlapping windows, adds no versions', async () => {
    const b = await build(silentMeter());
    try {
      await b.vee.intervals(query);
      const count = () => b.db.prepare('SELECT COUNT(*) FROM vee_interval_versions').pluck().get() as number;
      const n = count();
      await b.vee.intervals(query);
      await b.vee.intervals({ ...query, from: T('07:00'), to: T('10:00') });
      expect(b.db.prepare('SELECT MAX(version) FROM vee_interval_versions').pluck().get()).toBe(1);
      expect(count()).toBe(n + 4);
    } finally {
      await b.close();
    }
  });

  it('registerAt: measured where readings bracket the time, estimated across a gap', async () => {
    const b = await build(silentMeter());
    try {
      const at0800 = await b.vee.registerAt(METER, Q, T('08:00'));
      expect(at0800?.estimated).toBe(false);
      const at1000 = await b.vee.registerAt(METER, Q, T('10:00'));
      const at0900 = await b.vee.registerAt(METER, Q, T('09:00'));
      expect(at1000?.estimated).toBe(true);
      // 09:00–10:00 estimated from like-days: 4 × 0.04.
      expect(at1000!.value - at0900!.value).toBeCloseTo(0.16, 6);
    } finally {
      await b.close();
    }
  });

  it('refuses a register that is not the meter kind’s, and an unknown meter', async () => {
    const b = await build(silentMeter());
    try {
      await expect(b.vee.intervals({ ...query, quantity: 'volume_m3' })).rejects.toMatchObject({
        code: 'VEE_INVALID_QUERY',
      });
      await expect(b.vee.intervals({ ...query, meter: 'nope' })).rejects.toBeInstanceOf(ServiceError);
    } finally {
      await b.close();
    }
  });

  it('every error code is documented', () => {
    for (const [code, e] of Object.entries(VEE_ERRORS))
      expect(e.description.length, code).toBeGreaterThan(20);
  });
});

describe('config', () => {
  const config = parseVeeConfig({
    kinds: { electricity: { spikeFactor: 6 } },
    classes: [
      { name: 'dorm-room', prefixes: ['E-DORM-'], thresholds: { maxCurrentA: 10 } },
      { name: 'dorm-west', prefixes: ['E-DORM-W'], thresholds: { maxCurrentA: 16 } },
      { name: 'feeder', meters: ['E-DORM-W9'], thresholds: { maxCurrentA: 400, phases: 3 } },
    ],
  });
  it('defaults, then the kind, then the class (explicit list, then the longest prefix)', () => {
    expect(thresholdsFor(parseVeeConfig({}), 'x', 'water')).toMatchObject({
      spikeFactor: 5,
      minCompleteness: 0.9,
      zeroRunMinMs: 7_200_000,
    });
    expect(thresholdsFor(config, 'E-DORM-101', 'electricity')).toMatchObject({
      maxCurrentA: 10,
      spikeFactor: 6,
    });
    expect(classOf(config, 'E-DORM-W1')?.name).toBe('dorm-west');
    expect(thresholdsFor(config, 'E-DORM-W9', 'electricity')).toMatchObject({ maxCurrentA: 400, phases: 3 });
    expect(thresholdsFor(config, 'W-1', 'water').maxCurrentA).toBeUndefined();
  });
  it('refuses unknown settings and duplicate class names', () => {
    expect(() => parseVeeConfig({ kinds: { water: { pipeDiameter: 20 } } })).toThrow();
    expect(() => parseVeeConfig({ classes: [{ name: 'a' }, { name: 'a' }] })).toThrow(/twice/);
  });
});
