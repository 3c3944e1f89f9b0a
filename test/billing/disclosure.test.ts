import { describe, expect, it } from 'vitest';
import { BillRuns } from '../../services/money/billing/bill-run.ts';
import {
  buildDisclosure,
  disclosureCsv,
  disclosureHtml,
  formatPrice,
} from '../../services/money/billing/disclosure.ts';
import { monthsOfQuarter, parsePeriod } from '../../services/money/billing/period.ts';
import { parseTariffTable } from '../../services/money/billing/tariffs.ts';
import { fixtureAccounts, fixtureTariffInput, fixtureTariffs } from './fixture.ts';
import { backoffice, billing, local, MemoryValidatedSource, TZ } from './support.ts';

async function quarter(publishWith = fixtureTariffs) {
  const src = new MemoryValidatedSource();
  // Student room 3 kWh a day, staff household 10 kWh a day, all quarter (92 days from 1 October).
  src.setDays('E-E1-101', 'energy_import_kwh', [2026, 10, 1], Array(92).fill(3), 1000);
  src.setDays('E-H-12-301', 'energy_import_kwh', [2026, 10, 1], Array(92).fill(10), 5000);
  src.setDays('W-H-12-301', 'volume_m3', [2026, 10, 1], Array(92).fill(0.5), 300);
  const bo = backoffice();
  const runs = new BillRuns({ ...bo, tariffs: fixtureTariffs, source: src, timezone: TZ });
  const accounts = [fixtureAccounts[0]!, { ...fixtureAccounts[1]!, holder: 'Staff <household> & co' }];
  for (const month of monthsOfQuarter('2026-Q4', TZ)) await runs.run(billing, { period: month, accounts });
  const runsOfQuarter = monthsOfQuarter('2026-Q4', TZ).map((m) => runs.latest(m.label)!);
  return buildDisclosure({
    quarter: parsePeriod('2026-Q4', TZ),
    runs: runsOfQuarter,
    tariffs: publishWith,
    timezone: TZ,
  });
}

describe('quarterly disclosure', () => {
  it('per account: monthly opening and closing readings, the tariffs in force and the charges', async () => {
    const d = await quarter();
    const room = d.accounts.find((a) => a.account === 'S-E1-101')!;
    expect(
      room.months.map((m) => [m.period.label, m.meters[0]!.opening, m.meters[0]!.closing, m.totalFen]),
    ).toEqual([
      // October: 93 kWh × 58.8 fen = 5468.4 → 5468
      ['2026-10', 1000, 1093, 5468],
      // November: 45 kWh × 58.8 = 2646 + 45 kWh × 61 = 2745 → 5391
      ['2026-11', 1093, 1183, 5391],
      // December: 93 kWh × 61 = 5673
      ['2026-12', 1183, 1276, 5673],
    ]);
    expect(room.totalFen).toBe(5468 + 5391 + 5673);
    // Both student-room versions were in force during the quarter.
    expect(room.tariffs.map((t) => [t.effectiveFrom, t.components[0]!.tiers[0]!.price])).toEqual([
      ['2024-01-01', '0.588'],
      ['2026-11-16', '0.61'],
    ]);
  });

  it('CSV in Chinese and English, dates in the campus zone, ¥ from integer fen', async () => {
    const d = await quarter();
    const zh = disclosureCsv(d, 'zh');
    const en = disclosureCsv(d, 'en');
    expect(zh.split('\n')[0]).toBe(
      '季度,户号,户名,用户类别,月份,表号,类别,起码时间,起码,止码时间,止码,用量,估算占比,单位,说明,分项金额,金额（分）,金额,执行价格',
    );
    expect(en.split('\n')[0]).toContain('Opening reading,Closing read at,Closing reading,Consumption');
    const oct = zh.split('\n').find((l) => l.includes('S-E1-101') && l.includes('2026-10,'))!;
    expect(oct).toContain('学生宿舍');
    expect(oct).toContain(
      '2026-10-01 00:00,1000.000,2026-11-01 00:00,1093.000,93.000,,千瓦时,,电度电费 ¥54.68,5468,¥54.68',
    );
    expect(oct).toContain('电度电费 0.588 (元/千瓦时, 起 2024-01-01)');
    const tiers = en.split('\n').find((l) => l.includes('E-H-12-301') && l.includes('2026-12,'))!;
    expect(tiers).toContain('Energy up to 200 0.5283, up to 400 0.5783, above 400 0.8283');
    const water = en.split('\n').find((l) => l.includes('W-H-12-301') && l.includes('2026-10,'))!;
    // 15.5 m³: water 15.5 × 192 = 2976, resource 15.5 × 30 = 465, sewage 15.5 × 170 = 2635 → 6076 fen
    expect(water).toContain(
      'Water ¥29.76; Water-resource fee ¥4.65; Sewage-treatment fee ¥26.35,6076,¥60.76,',
    );
    expect(water).toContain('Water-resource fee 0.30');
  });

  it('a printable HTML page with every text escaped', async () => {
    const d = await quarter();
    const html = disclosureHtml(d, 'zh', local(2027, 1, 5, 9));
    expect(html).toContain('<html lang="zh-CN">');
    expect(html).toContain('能源费用季度公示 2026-Q4');
    expect(html).toContain('生成时间: 2027-01-05 09:00');
    expect(html).toContain('Staff &lt;household&gt; &amp; co');
    expect(html).not.toContain('<household>');
    expect(html).toContain(`¥${((5468 + 5391 + 5673) / 100).toFixed(2)}`);
    expect(disclosureHtml(d, 'en', 0)).toContain('Quarterly energy charges disclosure');
  });

  it('prints the prices the lines were billed at, not those of a table changed since', async () => {
    const changed = parseTariffTable({
      ...fixtureTariffInput,
      tariffs: fixtureTariffInput.tariffs.map((t) => ({
        ...t,
        components: t.components.map((c) => ('price' in c && c.price ? { ...c, price: '9.99' } : c)),
      })),
    });
    const csv = disclosureCsv(await quarter(changed), 'en');
    expect(csv).toContain('Energy 0.588 (yuan/kWh, from 2024-01-01)');
    expect(csv).not.toContain('9.99');
  });

  it('formats prices from milli-fen without floating point', () => {
    expect(formatPrice(58_830)).toBe('0.5883');
    expect(formatPrice(30_000)).toBe('0.30');
    expect(formatPrice(430_000)).toBe('4.30');
    expect(formatPrice(12_345_678)).toBe('123.45678');
  });
});
