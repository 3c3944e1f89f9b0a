import { describe, expect, it } from 'vitest';
import { overviewWindow } from '../../services/backoffice/overview/overview.ts';

/**
 * The overview's windows, checked against dates written out by hand: today so far ends on the last
 * complete quarter hour, last week is the same local hours seven calendar days before (across a
 * month end, and across a clock change where a day is not 24 hours).
 */
describe('overview window', () => {
  it('Shanghai, across a month end: 2026-03-02 10:07 local', () => {
    const now = Date.parse('2026-03-02T02:07:00Z');
    const w = overviewWindow(now, 'Asia/Shanghai');
    expect(new Date(w.from).toISOString()).toBe('2026-03-01T16:00:00.000Z');
    expect(new Date(w.to).toISOString()).toBe('2026-03-02T02:00:00.000Z');
    expect(new Date(w.lastWeekFrom).toISOString()).toBe('2026-02-22T16:00:00.000Z');
    expect(new Date(w.lastWeekTo).toISOString()).toBe('2026-02-23T02:00:00.000Z');
    expect(new Date(w.yesterdayFrom).toISOString()).toBe('2026-02-28T16:00:00.000Z');
    expect(new Date(w.lastWeekYesterdayFrom).toISOString()).toBe('2026-02-21T16:00:00.000Z');
    expect(w.to - w.lossFrom).toBe(86_400_000);
  });

  it('just after midnight the day so far is empty, not negative', () => {
    const now = Date.parse('2026-03-01T16:05:00Z');
    const w = overviewWindow(now, 'Asia/Shanghai');
    expect(w.to).toBe(w.from);
    expect(w.lastWeekTo).toBe(w.lastWeekFrom);
  });

  it('Berlin, the week after clocks went forward: last week starts at its own local midnight', () => {
    // 2026-03-29 is the day of the change (02:00 → 03:00); 2026-04-01 is a Wednesday at +02:00.
    const now = Date.parse('2026-04-01T08:20:00Z');
    const w = overviewWindow(now, 'Europe/Berlin');
    expect(new Date(w.from).toISOString()).toBe('2026-03-31T22:00:00.000Z');
    expect(new Date(w.lastWeekFrom).toISOString()).toBe('2026-03-24T23:00:00.000Z');
    expect(new Date(w.to).toISOString()).toBe('2026-04-01T08:15:00.000Z');
  });
});
