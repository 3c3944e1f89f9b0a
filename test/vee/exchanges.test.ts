import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { resetInstallations } from '../../services/metering/installations.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { parseVeeConfig } from '../../services/metering/vee/config.ts';
import { Vee } from '../../services/metering/vee/service.ts';
import { BillRuns } from '../../services/money/billing/bill-run.ts';
import { parsePeriod } from '../../services/money/billing/period.ts';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { fixtureTariffs } from '../billing/fixture.ts';

/**
 * A post-paid meter's exchange recorded directly (issue 23, item 7): a clerk records the registers
 * the fitter read, another person (a supervisor) approves, and only then is the meter's history
 * split there: the day is billed exactly (old meter's part + new meter's part), flagged
 * meter-replaced; before approval the fall is a register-decrease, never silently an exchange.
 */

const TZ = 'Asia/Shanghai';
const METER = 'E-P-1';
const Q = 'energy_import_kwh';
const Q15 = 15 * 60_000;
const DAY0 = Date.parse('2026-03-10T00:00+08:00');
const AT = Date.parse('2026-03-10T10:07+08:00');
const NOW = Date.parse('2026-03-11T12:00+08:00');
const clerk: Actor = { id: 'clerk.wang', kind: 'user', roles: ['clerk'] };
const both: Actor = { id: 'clerk.sup', kind: 'user', roles: ['clerk', 'supervisor'] };
const supervisor: Actor = { id: 'sup.li', kind: 'user', roles: ['supervisor'] };

/** Use in the k-th quarter-hour (varied, so no flat line). */
const use = (k: number) => Math.round((0.2 + (k % 5) * 0.03) * 1000);

function readings(): { list: StoredReading[]; dayMilli: number; before: number } {
  const list: StoredReading[] = [];
  const push = (ts: number, milli: number) =>
    list.push({
      meter: METER,
      ts,
      seq: list.length + 1,
      quality: 'good',
      values: { [Q]: milli / 1000 },
      site: 's',
      gateway: 'g',
      kind: 'electricity',
    });
  // The old meter, 3 days of history, read every 15 min until 10:00 on the 10th.
  let old = 5_000_000;
  const from = DAY0 - 3 * 86_400_000;
  let k = 0;
  let dayMilli = 0;
  for (let ts = from; ts <= DAY0 + 40 * Q15; ts += Q15, k++) {
    push(ts, old);
    if (ts >= DAY0 && ts < DAY0 + 40 * Q15) dayMilli += use(k);
    old += use(k);
  }
  // 10:00–10:07 on the old meter (70 Wh), 10:07–10:15 on the new one (80 Wh), then the new meter.
  const before = old - use(k - 1) + 70; // the old register at 10:07, as the fitter read it
  dayMilli += 150;
  let now = 80;
  for (let ts = DAY0 + 41 * Q15; ts <= DAY0 + 96 * Q15 + 4 * Q15; ts += Q15, k++) {
    push(ts, now);
    if (ts < DAY0 + 96 * Q15) dayMilli += use(k);
    now += use(k);
  }
  return { list, dayMilli, before };
}

describe('a post-paid meter exchange recorded under two people', () => {
  it('splits the history only once approved by another person, and the day is billed exactly', async () => {
    const { list, dayMilli, before } = readings();
    const store = SqliteStore.open({ path: ':memory:' });
    await store.writeReadings(list);
    const db = openBackofficeDb(':memory:');
    const audit = new AuditLog(db, () => NOW);
    const vee = new Vee({
      store,
      raw: { readings: (m, f, t) => store.readings(m, f, t) },
      db,
      audit,
      config: parseVeeConfig({}),
      timezone: TZ,
      kindOf: () => 'electricity',
      installations: (m) => resetInstallations(db, m),
      clock: () => NOW,
    });
    const day = async () =>
      (await vee.intervals({ meter: METER, quantity: Q, from: DAY0, to: DAY0 + 86_400_000, step: '1d' }))[0]!;
    try {
      expect((await day()).flags.map((f) => f.rule)).toContain('register-decrease');

      const x = vee.exchanges.request(clerk, {
        meter: METER,
        kind: 'exchange',
        at: AT,
        registerBefore: before / 1000,
        registerAfter: 0,
        newSerial: 'SN-NEW-77',
        note: 'fitter Zhao, old meter display failed',
      });
      expect(x.status).toBe('pending');
      // Recorded is not yet counted.
      expect((await day()).flags.map((f) => f.rule)).toContain('register-decrease');
      // The clerk cannot approve; a person holding both duties cannot approve their own record.
      expect(() => vee.exchanges.decide(clerk, x.id, true)).toThrow(/may not approve/);
      const own = vee.exchanges.request(both, { ...x, note: 'again' });
      expect(() => vee.exchanges.decide(both, own.id, true)).toThrow(/requested this and may not also/);
      expect(() => vee.exchanges.request(clerk, { ...x, newSerial: undefined as never })).toThrow(/serial/);
      expect(() => vee.exchanges.request(clerk, { ...x, at: NOW + 1 })).toThrow(/not a past time/);

      expect(vee.exchanges.decide(supervisor, x.id, true, 'checked the photo of both registers').status).toBe(
        'approved',
      );
      expect(() => vee.exchanges.decide(supervisor, x.id, false)).toThrow(/approved already/);
      expect(vee.exchanges.decide(supervisor, own.id, false, 'duplicate').status).toBe('rejected');

      const d = await day();
      expect(Math.round(d.value! * 1000)).toBe(dayMilli);
      expect(d.flags.map((f) => `${f.rule}/${f.severity}`)).toEqual(['meter-replaced/info']);
      expect(audit.query({ action: 'meter.exchange.approve' })[0]).toMatchObject({ actor: 'sup.li' });

      const runs = new BillRuns({
        db,
        audit,
        tariffs: fixtureTariffs,
        source: vee,
        timezone: TZ,
        clock: () => NOW,
      });
      const run = await runs.run(
        { id: 'fin.zhang', kind: 'user', roles: ['billing'] },
        {
          period: parsePeriod('2026-03-10..2026-03-11', TZ),
          accounts: [
            {
              id: 'H-P',
              holder: 'Post-paid household',
              customerType: 'student-room',
              meters: [{ meter: METER, utility: 'electricity' }],
            },
          ],
        },
      );
      expect(run.blocked).toEqual([]);
      expect(run.lines[0]!.quantityMilli).toBe(dayMilli);
      // 0.588 yuan/kWh, half up, worked out apart: milli × 588 / 10 000 fen.
      expect(run.lines[0]!.totalFen).toBe(Math.floor((dayMilli * 588 * 2 + 10_000) / 20_000));
    } finally {
      await store.close();
      db.close();
    }
  });
});
