import { localTimeToUtc } from '../../services/metering/consumption/zone.ts';
import type { CampusTree, TreeNode } from '../../services/metering/live/types.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { parseTariffTable } from '../../services/money/billing/tariffs.ts';
import { fixtureTariffInput } from '../billing/fixture.ts';

/**
 * A small campus for report tests, with readings written by hand-checkable formulas: one dorm
 * building (its main meter B and two rooms R1, R2 below it) and one staff household H1 elsewhere,
 * hourly register readings in Asia/Shanghai, and a tariff table whose student-room price changes
 * on 2026-11-16. Every hour's use is an exact number of Wh, so the expected figures can be
 * recomputed here in integers, without the store, interval consumption or `charge`.
 */

export const TZ = 'Asia/Shanghai';
export const HOUR = 3_600_000;

export const at = (y: number, m: number, d: number, h = 0) => localTimeToUtc(TZ, y, m, d, h);

function node(id: string, parent: string | null, role: TreeNode['role'], account?: string): TreeNode {
  return {
    ...{ id, name: id === 'B' ? 'Dorm B' : id, kind: 'electricity', role, site: 'east', gateway: 'gw' },
    ...{ parent, children: [], relay: false },
    ...(account ? { account } : {}),
  };
}

export function smallTree(): CampusTree {
  const nodes: Record<string, TreeNode> = {
    B: node('B', null, 'building'),
    R1: node('R1', 'B', 'room', 'ROOM-1'),
    R2: node('R2', 'B', 'room', 'ROOM-2'),
    H1: node('H1', null, 'unit', 'HH-1'),
  };
  nodes.B!.children = ['R1', 'R2'];
  return {
    campus: 'Test campus',
    timezone: TZ,
    sites: [{ id: 'east', name: 'East', roots: ['B', 'H1'] }],
    nodes,
  };
}

/** Wh used in the hour starting at local (y, m, d, h) by each meter: exact, and different every hour. */
export function whPerHour(meter: string, y: number, m: number, d: number, h: number): number {
  const base = { R1: 120, R2: 80, H1: 900, B: 0 }[meter] ?? 0;
  const own = base + ((d * 7 + h * 3 + m) % 11) * 17 + (y % 3);
  // The building's meter sees both rooms and 250 Wh an hour of its own (corridors, laundry).
  return meter === 'B' ? whPerHour('R1', y, m, d, h) + whPerHour('R2', y, m, d, h) + 250 : own;
}

/**
 * Hourly readings of every meter from local `from` to `to` (days, both included at midnight);
 * `skip` leaves out readings (a meter offline) by returning true.
 */
export function hourlyReadings(
  from: [number, number, number],
  to: [number, number, number],
  skip: (meter: string, ts: number) => boolean = () => false,
): StoredReading[] {
  const out: StoredReading[] = [];
  for (const meter of ['B', 'R1', 'R2', 'H1']) {
    let wh = 1_000_000;
    let seq = 1;
    const start = at(...from);
    const end = at(...to);
    for (let ts = start; ts <= end; ts += HOUR) {
      const local = new Date(ts + 8 * HOUR);
      const [y, m, d, h] = [
        local.getUTCFullYear(),
        local.getUTCMonth() + 1,
        local.getUTCDate(),
        local.getUTCHours(),
      ];
      if (!skip(meter, ts))
        out.push({
          ...{ meter, ts, seq: seq++, quality: 'good', values: { energy_import_kwh: wh / 1000 } },
          ...{ site: 'east', gateway: 'gw', kind: 'electricity' },
        });
      wh += whPerHour(meter, y, m, d, h);
    }
  }
  return out;
}

/** Wh of `meter` over local days [d0, d1] of a month, summed from the formula. */
export function whOfDays(meter: string, y: number, m: number, d0: number, d1: number): number {
  let sum = 0;
  for (let d = d0; d <= d1; d++) for (let h = 0; h < 24; h++) sum += whPerHour(meter, y, m, d, h);
  return sum;
}

/**
 * The billing fixture's electricity tariffs (test/billing/fixture.ts): the student-room price
 * changes on 2026-11-16; the staff household keeps its first tier table all month (its change on
 * the 16th is left out), so H1's cost is one tier table over the month.
 */
export const TARIFFS = parseTariffTable({
  timezone: TZ,
  tariffs: fixtureTariffInput.tariffs.filter(
    (t) =>
      t.utility === 'electricity' &&
      (t.customerTypes.includes('student-room') ||
        (t.customerTypes.includes('staff-household') && t.effectiveFrom === '2024-01-01')),
  ),
});
