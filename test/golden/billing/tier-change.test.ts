import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BillRuns } from '../../../services/money/billing/bill-run.ts';
import { parsePeriod } from '../../../services/money/billing/period.ts';
import { parseTariffTable, type TariffTableInput } from '../../../services/money/billing/tariffs.ts';
import { backoffice, billing, MemoryValidatedSource, TZ } from '../../billing/support.ts';

/**
 * Tier limits that change inside a month (issue 23, item 8): tier-change/case.json holds one month
 * of use, two tariff versions and the bill worked out by hand for each setting of
 * tierLimitsWithinMonth; a real bill run must come to the same fen.
 */

interface Case {
  days: { from: string; count: number; kWh: number };
  tariffs: TariffTableInput['tariffs'];
  expected: Record<'cumulative' | 'pro-rata', { totalFen: number }>;
}
const c = JSON.parse(readFileSync(join(import.meta.dirname, 'tier-change', 'case.json'), 'utf8')) as Case;

describe('tier limits changing inside a month', () => {
  for (const mode of ['cumulative', 'pro-rata'] as const) {
    it(`${mode}: the bill worked out by hand`, async () => {
      const src = new MemoryValidatedSource();
      const [y, m, d] = c.days.from.split('-').map(Number) as [number, number, number];
      src.setDays('E-H', 'energy_import_kwh', [y, m, d], Array(c.days.count).fill(c.days.kWh), 1000);
      const tariffs = parseTariffTable({ timezone: TZ, tierLimitsWithinMonth: mode, tariffs: c.tariffs });
      const runs = new BillRuns({ ...backoffice(), tariffs, source: src, timezone: TZ });
      const run = await runs.run(billing, {
        period: parsePeriod('2026-11', TZ),
        accounts: [
          {
            id: 'H',
            holder: 'Household',
            customerType: 'staff-household',
            meters: [{ meter: 'E-H', utility: 'electricity' }],
          },
        ],
      });
      expect(run.blocked).toEqual([]);
      expect(run.lines[0]!.quantityMilli).toBe(300_000);
      expect(run.totalFen).toBe(c.expected[mode].totalFen);
    });
  }

  it('is cumulative unless the table says otherwise, and refuses an unknown setting by name', () => {
    expect(parseTariffTable({ timezone: TZ, tariffs: c.tariffs }).tierLimitsWithinMonth).toBe('cumulative');
    expect(() =>
      parseTariffTable({ timezone: TZ, tierLimitsWithinMonth: 'daily', tariffs: c.tariffs }),
    ).toThrow(/tierLimitsWithinMonth/);
  });
});
