import { afterEach, describe, expect, it } from 'vitest';
import { parseBillingAccounts } from '../../services/money/billing/accounts.ts';
import { BillRuns } from '../../services/money/billing/bill-run.ts';
import { parsePeriod } from '../../services/money/billing/period.ts';
import { fixtureTariffs } from '../billing/fixture.ts';
import { billing } from '../billing/support.ts';
import { build, DORM, parseTime as t, type Built, type CaseInput } from './harness.ts';

/**
 * VEE begins a meter at its first reading: before it there is no meter, so nothing is validated,
 * estimated or recorded, and a day asked for there has no value and says why ('no-meter-yet'),
 * never 0 and never an estimate. The day the meter began counts from its first reading. A meter
 * that read once, long ago, and then fell silent is not "new": its silence stays a gap, as before.
 */

const TZ = 'Asia/Shanghai';
const METER = 'E-NEW-1';
const open: Built[] = [];
afterEach(async () => {
  for (const b of open.splice(0)) await b.close();
});

function newMeter(over: Partial<CaseInput> = {}): CaseInput {
  return {
    description: 'a meter that begins reading at 10:00 on 20 November',
    timezone: TZ,
    now: '2026-11-25T00:00+08:00',
    meters: { [METER]: 'electricity' },
    // A dorm room's day (kWh per 15 minutes by local hour) from its first reading on.
    generate: [
      { meter: METER, from: '2026-11-20T10:00+08:00', to: '2026-11-25T00:01+08:00', start: 100, per: DORM },
    ],
    query: {
      meter: METER,
      quantity: 'energy_import_kwh',
      from: '2026-01-01T00:00+08:00',
      to: '2027-01-01T00:00+08:00',
      step: '1d',
    },
    ...over,
  };
}

async function yearOf(input: CaseInput) {
  const b = await build(input);
  open.push(b);
  const q = input.query as { from: string; to: string };
  const days = await b.vee.intervals({
    meter: METER,
    quantity: 'energy_import_kwh',
    from: t(q.from),
    to: t(q.to),
    step: '1d',
  });
  const recorded = (before: number) =>
    (
      b.db
        .prepare('SELECT count(*) AS n FROM vee_interval_versions WHERE meter = ? AND start < ?')
        .get(METER, before) as { n: number }
    ).n;
  return { b, days, recorded };
}

const day = (iso: string) => t(`${iso}T00:00+08:00`);

describe("VEE before a meter's first reading", () => {
  it('records nothing before it, and every earlier day is a gap that says why', async () => {
    const { days, recorded } = await yearOf(newMeter());
    // Every day of the year that has ended: 1 January to 24 November.
    expect(days).toHaveLength(328);
    expect(recorded(t('2026-11-20T10:00+08:00'))).toBe(0);
    const before = days.filter((d) => d.end <= day('2026-11-20'));
    expect(before).toHaveLength(323);
    for (const d of before) {
      expect(d.value).toBeNull();
      expect(d.source).toBe('actual');
      expect(d.flags.map((f) => f.rule)).toEqual(['no-meter-yet']);
    }
  });

  it('counts the first day from its first reading, and the days after in full', async () => {
    const { days } = await yearOf(newMeter());
    const byStart = new Map(days.map((d) => [d.start, d]));
    // Recomputed from the profile: four quarter hours an hour, from 10:00 on the first day.
    const hours = (from: number) => DORM.slice(from).reduce((a, kwh) => a + 4 * kwh, 0);
    const first = byStart.get(day('2026-11-20'))!;
    expect(first.value).toBeCloseTo(hours(10), 6);
    expect(first.source).toBe('actual');
    expect(first.flags.map((f) => f.rule)).toContain('no-meter-yet');
    expect(first.flags.find((f) => f.rule === 'no-meter-yet')!.reason).toMatch(/2026-11-20T02:00:00.000Z/);
    for (const iso of ['2026-11-21', '2026-11-22', '2026-11-23', '2026-11-24']) {
      const d = byStart.get(day(iso))!;
      expect(d.value).toBeCloseTo(hours(0), 6);
      expect(d.source).toBe('actual');
      expect(d.flags.filter((f) => f.severity === 'fail')).toEqual([]);
    }
  });

  it('a meter with no reading at all has no day with a value and records nothing', async () => {
    const { days, recorded } = await yearOf(newMeter({ generate: [] }));
    expect(days.every((d) => d.value === null && d.flags.some((f) => f.rule === 'no-meter-yet'))).toBe(true);
    expect(recorded(Infinity)).toBe(0);
  });

  it('a meter that read long ago and fell silent is not new: its silence is validated as before', async () => {
    // Read in January, silent since: more than the history VEE looks back over.
    const input = newMeter({
      generate: [
        { meter: METER, from: '2026-01-05T00:00+08:00', to: '2026-01-10T00:00+08:00', start: 10, per: 0.25 },
        { meter: METER, from: '2026-11-20T10:00+08:00', to: '2026-11-25T00:01+08:00', start: 100, per: 0.25 },
      ],
      query: {
        meter: METER,
        quantity: 'energy_import_kwh',
        from: '2026-06-01T00:00+08:00',
        to: '2026-06-03T00:00+08:00',
        step: '1d',
      },
    });
    const { days, recorded } = await yearOf(input);
    expect(days).toHaveLength(2);
    for (const d of days) {
      expect(d.value).toBeNull();
      expect(d.flags.map((f) => f.rule)).not.toContain('no-meter-yet');
    }
    // Its intervals were validated and recorded (as gaps), as for any silent meter.
    expect(recorded(day('2026-06-03'))).toBeGreaterThan(0);
  });

  it('an earlier reading that comes in late moves the start back at the next computation', async () => {
    const input = newMeter({
      generate: [
        { meter: METER, from: '2026-11-19T10:00+08:00', to: '2026-11-25T00:01+08:00', start: 76, per: DORM },
      ],
    });
    const b = await build(input);
    open.push(b);
    // The meter's first day of readings has not come in yet (the gateway's outbox holds them).
    const held = b.readings.splice(0, 56);
    expect(held.at(-1)!.ts).toBe(t('2026-11-19T23:45+08:00'));
    const ask = () =>
      b.vee.intervals({
        meter: METER,
        quantity: 'energy_import_kwh',
        from: day('2026-11-19'),
        to: day('2026-11-21'),
        step: '1d',
      });
    const hours = (from: number) => DORM.slice(from).reduce((a, kwh) => a + 4 * kwh, 0);
    const before = await ask();
    expect(before[0]!.value).toBeNull();
    expect(before[0]!.flags.map((f) => f.rule)).toEqual(['no-meter-yet']);
    expect(before[1]!.value).toBeCloseTo(hours(0), 6);
    // They are delivered, with their own (earlier) sequence numbers.
    b.readings.unshift(...held);
    const after = await ask();
    expect(after.map((d) => d.value)).toEqual([expect.closeTo(hours(10), 6), expect.closeTo(hours(0), 6)]);
  });
});

describe('billing a meter that began reading inside the period', () => {
  it('blocks it, naming each day before its first reading, rather than billing a zero or an estimate', async () => {
    const b = await build(
      newMeter({
        now: '2026-12-01T00:00+08:00',
        generate: [
          {
            meter: METER,
            from: '2026-11-20T10:00+08:00',
            to: '2026-12-01T00:01+08:00',
            start: 100,
            per: DORM,
          },
        ],
      }),
    );
    open.push(b);
    const runs = new BillRuns({
      ...{ db: b.db, audit: b.audit, clock: () => b.clock.now },
      ...{ tariffs: fixtureTariffs, source: b.vee, timezone: TZ },
    });
    const run = await runs.run(billing, {
      period: parsePeriod('2026-11', TZ),
      accounts: parseBillingAccounts({
        accounts: [
          {
            id: 'S-NEW',
            holder: 'x',
            customerType: 'student-room',
            meters: [{ meter: METER, utility: 'electricity' }],
          },
        ],
      }),
    });
    expect(run.lines).toEqual([]);
    const problems = run.blocked[0]!.days;
    expect(problems).toHaveLength(19);
    expect(problems[0]!.start).toBe(day('2026-11-01'));
    expect(problems.at(-1)!.end).toBe(day('2026-11-20'));
    expect(new Set(problems.map((d) => d.problem))).toEqual(
      new Set(["no meter yet: the day is before the meter's first reading"]),
    );
  });
});
