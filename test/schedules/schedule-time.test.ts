import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScheduleSchema } from '../../config/schemas/power.ts';
import { phaseAt, upcoming } from '../../services/operations/schedules/schedule-time.ts';
import { dormSchedule, local, TZ } from './support.ts';

/**
 * When a schedule wants the power off, in campus time: weekdays, holidays, term dates and
 * effective dates decide which nights have a lights-out; a night belongs to the date it starts.
 */

describe('phaseAt', () => {
  const s = dormSchedule();

  it('is off from 23:00 to 06:30 the next morning on a term weekday, in Shanghai time', () => {
    // Monday 14 September 2026, a term day.
    expect(phaseAt(s, local(2026, 9, 14, 22, 59), TZ).want).toBe('close');
    expect(phaseAt(s, local(2026, 9, 14, 23, 0), TZ)).toEqual({
      want: 'open',
      since: local(2026, 9, 14, 23, 0),
      night: '2026-09-14',
    });
    expect(phaseAt(s, local(2026, 9, 15, 6, 29), TZ).want).toBe('open');
    expect(phaseAt(s, local(2026, 9, 15, 6, 30), TZ)).toEqual({
      want: 'close',
      since: local(2026, 9, 15, 6, 30),
      night: '2026-09-14',
    });
    // 23:00 in Shanghai is 15:00 UTC: the same instant read as UTC would be mid-afternoon.
    expect(local(2026, 9, 14, 23, 0)).toBe(Date.UTC(2026, 8, 14, 15, 0));
  });

  it('skips a night on the holiday list, and Friday and Saturday nights not among its days', () => {
    // Wednesday 30 September is on the holiday list (the eve of National Day).
    expect(phaseAt(s, local(2026, 9, 30, 23, 30), TZ)).toMatchObject({ want: 'close', night: '2026-09-29' });
    // Friday 18 September: not a lights-out day; the last power-on was Friday morning.
    expect(phaseAt(s, local(2026, 9, 18, 23, 30), TZ)).toEqual({
      want: 'close',
      since: local(2026, 9, 18, 6, 30),
      night: '2026-09-17',
    });
    // Sunday 20 September is.
    expect(phaseAt(s, local(2026, 9, 20, 23, 30), TZ).want).toBe('open');
  });

  it('acts only within term dates and effective dates', () => {
    // 31 August: before the term and before effectiveFrom.
    expect(phaseAt(s, local(2026, 8, 31, 23, 30), TZ)).toEqual({ want: 'close', since: 0, night: null });
    // Winter break after 15 January 2027.
    expect(phaseAt(s, local(2027, 1, 17, 23, 30), TZ).want).toBe('close');
    expect(phaseAt(s, local(2027, 1, 14, 23, 30), TZ).want).toBe('open'); // a Thursday in term
    const ended = dormSchedule({ effectiveTo: '2026-09-15' });
    expect(phaseAt(ended, local(2026, 9, 15, 23, 30), TZ).want).toBe('open');
    expect(phaseAt(ended, local(2026, 9, 16, 23, 30), TZ).want).toBe('close');
  });

  it('keeps a midday window on the same day when power-on is after lights-out', () => {
    const nap = dormSchedule({ off: '12:30', on: '14:00' });
    expect(phaseAt(nap, local(2026, 9, 14, 13, 0), TZ)).toMatchObject({ want: 'open', night: '2026-09-14' });
    expect(phaseAt(nap, local(2026, 9, 14, 14, 0), TZ).want).toBe('close');
  });

  it('lists the coming nights for the page, holidays left out', () => {
    const nights = upcoming(s, local(2026, 9, 27, 12), TZ, 5).map((n) => n.night);
    // Sun 27, Mon 28, Tue 29; Wed 30 is a holiday; Thu 1 October.
    expect(nights).toEqual(['2026-09-27', '2026-09-28', '2026-09-29', '2026-10-01']);
  });
});

describe('the schedule in the campus file', () => {
  it('names what is wrong', () => {
    const bad = ScheduleSchema.safeParse({
      id: 'x',
      rooms: {},
      off: '25:00',
      on: '06:30',
      holidays: ['2026-02-30'],
      effectiveFrom: '2026-09-01',
      effectiveTo: '2026-08-01',
    });
    expect(bad.success).toBe(false);
    const messages = bad.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        'rooms: name at least one building, floor, room or meter',
        'off: a time of day is HH:MM (24 h, local)',
        'holidays.0: no such date',
      ]),
    );
    const backwards = ScheduleSchema.safeParse({
      id: 'x',
      rooms: { meters: ['E-1'] },
      off: '23:00',
      on: '23:00',
      effectiveFrom: '2026-09-01',
      effectiveTo: '2026-08-01',
    });
    expect(backwards.error!.issues.map((i) => i.message)).toEqual([
      'on and off are the same time',
      'effectiveTo is before effectiveFrom',
    ]);
  });
});

describe('phaseAt against a minute-by-minute recomputation', () => {
  // Shanghai keeps UTC+8 all year: the recomputation uses that fixed offset and plain date
  // strings instead of the zone arithmetic phaseAt uses.
  const H8 = 8 * 3_600_000;
  const dateOf = (t: number) => new Date(t + H8).toISOString().slice(0, 10);
  const at = (date: string, hhmm: string) => Date.parse(`${date}T${hhmm}:00Z`) - H8;
  const nextDate = (date: string) => dateOf(at(date, '12:00') + 86_400_000);
  const WEEK = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

  it('agrees on whether the power is off, for random schedules and instants', () => {
    const hhmm = fc
      .tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 15, 30, 45))
      .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
    const day = fc.integer({ min: 0, max: 60 }).map((k) => dateOf(Date.UTC(2026, 8, 1, 4) + k * 86_400_000));
    fc.assert(
      fc.property(
        hhmm,
        hhmm,
        fc.subarray([...WEEK], { minLength: 1 }),
        fc.array(day, { maxLength: 6 }),
        fc.integer({ min: Date.UTC(2026, 8, 1), max: Date.UTC(2026, 10, 1) }),
        (off, on, days, holidays, t) => {
          fc.pre(off !== on);
          const s = dormSchedule({ off, on, days, holidays, terms: [], effectiveFrom: '2026-09-01' });
          const active = (date: string) =>
            date >= '2026-09-01' &&
            !holidays.includes(date) &&
            days.includes(WEEK[new Date(`${date}T12:00:00Z`).getUTCDay()]!);
          const today = dateOf(t);
          const yesterday = dateOf(at(today, '12:00') - 86_400_000);
          const off1 = [yesterday, today].some((d) => {
            if (!active(d)) return false;
            const end = on <= off ? at(nextDate(d), on) : at(d, on);
            return t >= at(d, off) && t < end;
          });
          expect(phaseAt(s, t, TZ).want).toBe(off1 ? 'open' : 'close');
        },
      ),
      { numRuns: 2000, seed: 13 },
    );
  });
});
