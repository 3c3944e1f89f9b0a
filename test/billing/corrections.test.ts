import { describe, expect, it } from 'vitest';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { BillRuns } from '../../services/money/billing/bill-run.ts';
import { billRunCsv } from '../../services/money/billing/export.ts';
import { parsePeriod } from '../../services/money/billing/period.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { build, DORM, parseTime as T, type CaseInput } from '../vee/harness.ts';
import { fixtureTariffs } from './fixture.ts';
import { billing, TZ } from './support.ts';

/**
 * Corrections after a run (issue 23, item 3), over the real VEE and a real bill run: a supervisor's
 * edit, and actual reads that replace an estimate, arriving after a period was billed, are billed
 * in the next period's run as adjustment lines (credit or debit) naming the run they correct and
 * why; each is billed once; a billed period is closed and billing it again is refused.
 */

const METER = 'E-S-1';
const Q = 'energy_import_kwh' as const;
const supervisor: Actor = { id: 'sup.li', kind: 'user', roles: ['supervisor'] };
const accounts = [
  {
    id: 'S-1',
    holder: 'Student room 1',
    customerType: 'student-room' as const,
    meters: [{ meter: METER, utility: 'electricity' as const }],
  },
];
const P = (text: string) => parsePeriod(text, TZ);
/** The student-room price in March 2026, 0.588 yuan/kWh: fen for milli-kWh, half up, worked out apart. */
const fen = (milli: number) => Math.floor((milli * 588 * 2 + 10_000) / 20_000);

function input(silentFrom?: string): CaseInput {
  return {
    description: 'corrections',
    timezone: TZ,
    now: '2026-03-08T12:00+08:00',
    meters: { [METER]: 'electricity' },
    generate: [
      {
        meter: METER,
        from: '2026-02-01T00:00+08:00',
        to: '2026-03-08T00:15+08:00',
        start: 800,
        per: DORM,
        ...(silentFrom ? { skip: [[silentFrom, '2026-03-08T00:15+08:00'] as [string, string]] } : {}),
      },
    ],
    query: {
      meter: METER,
      quantity: Q,
      from: '2026-03-01T00:00+08:00',
      to: '2026-03-02T00:00+08:00',
      step: '1d',
    },
  };
}

describe('corrections after a bill run', () => {
  it("a supervisor's edit is billed in the next run as an adjustment of the run it corrects, once; a closed period is refused", async () => {
    const b = await build(input());
    try {
      const runs = new BillRuns({
        db: b.db,
        audit: b.audit,
        tariffs: fixtureTariffs,
        source: b.vee,
        timezone: TZ,
        clock: () => b.clock.now,
      });
      const first = await runs.run(billing, { period: P('2026-03-01..2026-03-03'), accounts });
      expect(first.lines).toHaveLength(1);
      const billedMilli = first.lines[0]!.quantityMilli;
      expect(first.lines[0]!.totalFen).toBe(fen(billedMilli));

      const start = T('2026-03-01T10:00+08:00');
      const [was] = await b.vee.intervals({
        meter: METER,
        quantity: Q,
        from: start,
        to: start + 900_000,
        step: '15m',
      });
      const edit = b.vee.edit(supervisor, {
        meter: METER,
        quantity: Q,
        start,
        value: was!.value! + 1.5,
        reason: 'METER_FAULT',
        note: 'field check 17',
      });
      expect(edit.current).toBe(false);

      // The closed period, or one overlapping it, is not billed again.
      for (const again of ['2026-03-01..2026-03-03', '2026-03-02..2026-03-04']) {
        const err = await runs.run(billing, { period: P(again), accounts }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ServiceError);
        expect(err).toMatchObject({ code: 'PERIOD_CLOSED' });
        expect((err as Error).message).toContain(first.id);
      }

      const second = await runs.run(billing, { period: P('2026-03-03..2026-03-05'), accounts });
      const adj = second.lines.find((l) => l.adjusts)!;
      expect(adj.adjusts).toMatchObject({ run: first.id, period: { label: '2026-03-01..2026-03-03' } });
      expect(adj.adjusts!.reason).toBe('edited by sup.li (METER_FAULT)');
      expect(adj.quantityMilli).toBe(1500);
      expect(adj.totalFen).toBe(fen(billedMilli + 1500) - fen(billedMilli));
      expect(second.totalFen).toBe(second.lines.reduce((a, l) => a + l.totalFen, 0));

      // Billed once: the next run has nothing more to adjust...
      const third = await runs.run(billing, { period: P('2026-03-05..2026-03-06'), accounts });
      expect(third.lines.filter((l) => l.adjusts)).toEqual([]);
      // ...until the edit is taken back: a credit of exactly what was debited.
      b.vee.edit(supervisor, {
        meter: METER,
        quantity: Q,
        start,
        value: was!.value!,
        reason: 'CUSTOMER_AGREED',
        note: 'objection upheld',
      });
      const fourth = await runs.run(billing, { period: P('2026-03-06..2026-03-07'), accounts });
      const credit = fourth.lines.find((l) => l.adjusts)!;
      expect(credit.adjusts).toMatchObject({ run: first.id, reason: 'edited by sup.li (CUSTOMER_AGREED)' });
      expect(credit.quantityMilli).toBe(-1500);
      expect(credit.totalFen).toBe(-adj.totalFen);
      expect(runs.verify(fourth.id)).toEqual({ ok: true });
      expect(billRunCsv(fourth)).toContain(
        `adjustment of 2026-03-01..2026-03-03 (${first.id}): edited by sup.li (CUSTOMER_AGREED)`,
      );
    } finally {
      await b.close();
    }
  });

  it('actual reads that replace an estimate are billed as an adjustment with that reason', async () => {
    // The meter is silent from 2026-03-02 20:00 until after the first run: the rest of that day is estimated.
    const b = await build(input('2026-03-02T20:00+08:00'));
    try {
      b.clock.now = T('2026-03-03T06:00+08:00');
      const runs = new BillRuns({
        db: b.db,
        audit: b.audit,
        tariffs: fixtureTariffs,
        source: b.vee,
        timezone: TZ,
        clock: () => b.clock.now,
      });
      const first = await runs.run(billing, { period: P('2026-03-01..2026-03-03'), accounts });
      expect(first.lines[0]!.estimatedMilli).toBeGreaterThan(0);

      // The readings arrive (the gateway's outbox replays them): that evening the room used 0.4 kWh
      // more between 21:00 and 21:15 than its like-days, so the estimate was short. Later days pass.
      const full = await build(input());
      const extra = T('2026-03-02T21:15+08:00');
      const missing: StoredReading[] = full.readings
        .filter((r) => r.ts >= T('2026-03-02T20:00+08:00'))
        .map((r) =>
          r.ts >= extra ? { ...r, values: { [Q]: Math.round((r.values[Q]! + 0.4) * 1e6) / 1e6 } } : r,
        );
      await full.close();
      b.readings.push(...missing);
      await b.store.writeReadings(missing);
      b.clock.now = T('2026-03-08T12:00+08:00');

      const second = await runs.run(billing, { period: P('2026-03-03..2026-03-05'), accounts });
      const adj = second.lines.find((l) => l.adjusts)!;
      expect(adj.adjusts).toMatchObject({ run: first.id, reason: 'actual reading replaces estimate' });
      // Billed in all now: the measured use, the register at 3 March 00:00 minus that at 1 March 00:00.
      const at = (ts: string) => b.readings.find((r) => r.ts === T(ts))!.values[Q]!;
      const measured = Math.round((at('2026-03-03T00:00+08:00') - at('2026-03-01T00:00+08:00')) * 1000);
      expect(first.lines[0]!.quantityMilli + adj.quantityMilli).toBe(measured);
      expect(first.lines[0]!.totalFen + adj.totalFen).toBe(fen(measured));
      expect(adj.quantityMilli).toBe(400);
    } finally {
      await b.close();
    }
  });
});
