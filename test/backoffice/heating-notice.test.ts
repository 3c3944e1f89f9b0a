import { describe, expect, it } from 'vitest';
import { noticesHtml } from '../../services/money/collection/print.ts';
import { T0 } from '../outages/support.ts';
import { billing, DAY, desk1, heatingFixture } from '../heating/support.ts';

/**
 * The printed payment notice of a heating season: a business heated under contract has no
 * certified area, and its line reads as its contract ("by contract HC-2026-007" / "按合同 …"),
 * never "0.000 m2"; a household's certified area reads in m² to the hundredth it is certified in.
 */

describe("a heating season's payment notices", () => {
  it('print a contract line as its contract and an area in m², in zh and en', () => {
    const f = heatingFixture();
    f.time.now = T0 - 40 * DAY;
    f.units.record(desk1, {
      ...{
        unit: 'H-E-H01',
        account: 'HH-H-E-H01',
        holder: 'Household H-E-H01',
        customerType: 'staff-household',
      },
      ...{
        validFrom: '2026-10-01',
        areaCentiM2: 8_257,
        certificate: 'HC-H-E-H01',
        reason: 'first certification',
      },
    });
    f.units.record(billing, {
      ...{ unit: 'H-E-H03', account: 'BIZ-CAFE', holder: 'Campus Café Ltd', customerType: 'business' },
      ...{
        validFrom: '2026-10-01',
        contract: 'HC-2026-007',
        seasonFen: 1_250_000,
        reason: 'contract signed',
      },
    });
    f.fees.defineSeason(billing, {
      id: '2026-2027',
      firstDay: '2026-11-15',
      lastDay: '2027-03-15',
      pricePerM2Fen: 2_450,
    });
    const run = f.fees.bill(billing, '2026-2027');
    const table = f.collection.publish(billing, { run: run.id });
    f.time.now = table.objectionsUntil;
    f.collection.confirm(billing, table.id);
    const notices = f.collection.notices(table.id);
    const quantities = (lang: 'zh' | 'en') => {
      const html = noticesHtml(notices, f.collection.runOf(table.id), lang, 'Asia/Shanghai');
      // Each door's page: its account and its lines' quantity cells (the third column).
      return [...html.matchAll(/data-account="([^"]+)"[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/g)].map((m) => [
        m[1],
        [...m[2]!.matchAll(/<tr>(?:<td[^>]*>[^<]*<\/td>){2}<td class="num">([^<]*)<\/td>/g)].map((q) => q[1]),
      ]);
    };
    expect(quantities('en')).toEqual([
      ['BIZ-CAFE', ['by contract HC-2026-007']],
      ['HH-H-E-H01', ['82.57 m²']],
    ]);
    expect(quantities('zh')).toEqual([
      ['BIZ-CAFE', ['按合同 HC-2026-007']],
      ['HH-H-E-H01', ['82.57 m²']],
    ]);
  });
});
