import { describe, expect, it } from 'vitest';
import {
  intlReference,
  localTimeToUtc,
  wallClock,
  zoneOffset,
} from '../../services/metering/consumption/zone.ts';
import { prng } from '../helpers/prng.ts';

/**
 * The cached zone arithmetic (an offset per zone and UTC day, Intl only on days that hold a
 * transition) against Intl's formatToParts asked at every instant: random instants over two
 * centuries, and every second around each transition of zones with unusual rules.
 */

const ZONES = [
  'Asia/Shanghai', // summer time 1986–1991
  'America/New_York',
  'Europe/London', // double summer time in the 1940s
  'Australia/Lord_Howe', // a 30-minute shift
  'Asia/Kathmandu', // +05:45
  'Pacific/Chatham', // +12:45 / +13:45
  'Africa/Casablanca', // summer time suspended for Ramadan: four changes a year
  'America/Sao_Paulo',
  'Pacific/Apia', // skipped a whole day in 2011
  'Asia/Urumqi',
  'UTC',
];

const FROM = Date.UTC(1900, 0, 1);
const TO = Date.UTC(2100, 0, 1);
const HOUR = 3_600_000;
/** No zone changes its offset twice within a week (Casablanca, the busiest, about a month apart). */
const WEEK = 7 * 24 * HOUR;

/** Instants where the reference offset changes in [from, to), to the millisecond, by bisection. */
function transitions(zone: string, from: number, to: number): number[] {
  const out: number[] = [];
  let b = intlReference.zoneOffset(from, zone);
  for (let t = from; t < to; t += WEEK) {
    const a = b;
    const end = Math.min(t + WEEK, to);
    b = intlReference.zoneOffset(end, zone);
    if (b === a) continue;
    let lo = t;
    let hi = end;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (intlReference.zoneOffset(mid, zone) === a) lo = mid;
      else hi = mid;
    }
    out.push(hi);
  }
  return out;
}

describe('zone arithmetic with cached day offsets', () => {
  it('gives Intl’s wall clock and offset at random instants of 1900–2100 in every zone', () => {
    const rand = prng(20261206);
    for (const zone of ZONES) {
      for (let i = 0; i < 3000; i++) {
        const ts = Math.floor(FROM + rand() * (TO - FROM));
        expect(zoneOffset(ts, zone), `${zone} ${new Date(ts).toISOString()}`).toBe(
          intlReference.zoneOffset(ts, zone),
        );
        expect(wallClock(ts, zone), `${zone} ${new Date(ts).toISOString()}`).toEqual(
          intlReference.wallClock(ts, zone),
        );
      }
    }
  });

  it('gives Intl’s answer on each side of every transition from 1980 to 2030', () => {
    let checked = 0;
    for (const zone of ZONES) {
      for (const t of transitions(zone, Date.UTC(1980, 0, 1), Date.UTC(2030, 0, 1))) {
        for (const d of [-HOUR, -1001, -1000, -1, 0, 1, 999, 1000, HOUR]) {
          const ts = t + d;
          expect(zoneOffset(ts, zone), `${zone} ${new Date(ts).toISOString()}`).toBe(
            intlReference.zoneOffset(ts, zone),
          );
          expect(wallClock(ts, zone)).toEqual(intlReference.wallClock(ts, zone));
          checked++;
        }
      }
    }
    // Casablanca alone changes about four times a year since 2012: the scan must have found them.
    expect(checked).toBeGreaterThan(9 * 400);
    expect(checked).toBeLessThan(9 * 1000);
  });

  it('still refuses an unknown zone, and keeps Shanghai’s 1986–1991 summer time', () => {
    expect(() => zoneOffset(0, 'Mars/Olympus_Mons')).toThrow(RangeError);
    expect(() => wallClock(0, 'Mars/Olympus_Mons')).toThrow(RangeError);
    // 1988-06-01 noon in Shanghai was UTC+9; 2026-06-01 is UTC+8.
    expect(zoneOffset(Date.UTC(1988, 5, 1, 3), 'Asia/Shanghai')).toBe(9 * HOUR);
    expect(zoneOffset(Date.UTC(2026, 5, 1, 3), 'Asia/Shanghai')).toBe(8 * HOUR);
    // Apia skipped 30 December 2011: its midnight is the first instant of the 31st.
    expect(localTimeToUtc('Pacific/Apia', 2011, 12, 30)).toBe(localTimeToUtc('Pacific/Apia', 2011, 12, 31));
  });
});
