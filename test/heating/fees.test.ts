import { describe, expect, it } from 'vitest';
import { noticesHtml } from '../../services/money/collection/print.ts';
import { areaFeeFen } from '../../services/money/heating/fees.ts';
import { T0 } from '../outages/support.ts';
import { billing, cashier, DAY, desk1, desk2, heatingFixture, type HeatingFixture } from './support.ts';

/**
 * Heating charged per certified area per season for households and by contract for businesses and
 * external users (DOMAIN.md "Customers and tariffs"); a certificate's change is a dated, attributed
 * new record, never an overwrite; the season's fees go out through post-paid collection as notices
 * and payroll deductions, in integer fen.
 */

const household = (unit: string, areaCentiM2: number, extra: object = {}) => ({
  ...{ unit, account: `HH-${unit}`, holder: `Household ${unit}`, customerType: 'staff-household' },
  ...{ validFrom: '2026-10-01', areaCentiM2, certificate: `HC-${unit}`, reason: 'first certification' },
  ...extra,
});

function season(f: HeatingFixture, pricePerM2Fen = 2_450) {
  return f.fees.defineSeason(billing, {
    id: '2026-2027',
    firstDay: '2026-11-15',
    lastDay: '2027-03-15',
    pricePerM2Fen,
  });
}

describe('certified heated areas', () => {
  it('keep every certificate: a change is a dated new record by a named person', () => {
    const f = heatingFixture();
    f.time.now = T0 - 60 * DAY;
    const first = f.units.record(desk1, household('H-E-H01', 8_250));
    f.time.now = T0 - 10 * DAY;
    const remeasured = f.units.record(
      desk2,
      household('H-E-H01', 8_630, {
        validFrom: '2026-11-20',
        certificate: 'HC-E-H01/2',
        reason: 're-measured after the balcony was enclosed',
      }),
    );
    expect(f.units.history('H-E-H01').map((r) => [r.basis, r.recordedBy, r.validFromDay])).toEqual([
      [{ kind: 'area', areaCentiM2: 8_250, certificate: 'HC-H-E-H01' }, 'desk.wu', '2026-10-01'],
      [{ kind: 'area', areaCentiM2: 8_630, certificate: 'HC-E-H01/2' }, 'desk.he', '2026-11-20'],
    ]);
    // In force: the first until the local midnight starting 20 November (16:00 UTC the day before).
    const cut = Date.UTC(2026, 10, 19, 16);
    expect(f.units.inForce('H-E-H01', cut - 1)?.id).toBe(first.id);
    expect(f.units.inForce('H-E-H01', cut)?.id).toBe(remeasured.id);
    const audit = f.audit.query({ subject: 'heating-unit:H-E-H01' });
    expect(audit.map((e) => [e.action, e.actor])).toEqual([
      ['heating.area-certified', 'desk.wu'],
      ['heating.area-certified', 'desk.he'],
    ]);
    expect(audit[1]!.before).toMatchObject({ record: first.id });
  });

  it('refuses a record that names what is wrong, and changes nothing', () => {
    const f = heatingFixture();
    const refused = (input: object) => {
      const before = f.db.prepare('SELECT COUNT(*) FROM heating_unit_records').pluck().get();
      let err: { code?: string; message?: string } = {};
      try {
        f.units.record(desk1, input);
      } catch (e) {
        err = e as typeof err;
      }
      expect(f.db.prepare('SELECT COUNT(*) FROM heating_unit_records').pluck().get()).toBe(before);
      return [err.code, err.message];
    };
    expect(refused(household('H-E-H01', 82.5))).toEqual([
      'INVALID_UNIT_RECORD',
      expect.stringContaining('areaCentiM2'),
    ]);
    expect(refused(household('E-E1-101', 8_250))).toEqual([
      'INVALID_UNIT_RECORD',
      expect.stringContaining('not a heat meter'),
    ]);
    expect(refused({ ...household('H-E-H02', 8_250), customerType: 'business' })).toEqual([
      'INVALID_UNIT_RECORD',
      expect.stringContaining('by contract'),
    ]);
    expect(refused(household('H-E-H02', 8_250, { validFrom: '1 Oct' }))).toEqual([
      'INVALID_UNIT_RECORD',
      expect.stringContaining('YYYY-MM-DD'),
    ]);
    expect(() => f.units.record(cashier, household('H-E-H02', 8_250))).toThrow(/heating.units/);
    // Billing prices the season from these records: it may not set them (a unit's area lowered
    // and the season priced by one person).
    expect(() => f.units.record(billing, household('H-E-H02', 4_000))).toThrow(/heating.units/);
  });
});

describe("a heating season's fees", () => {
  it('charge households by area and businesses by contract, and go out through collection', () => {
    const f = heatingFixture();
    f.time.now = T0 - 40 * DAY;
    f.units.record(desk1, household('H-E-H01', 8_250));
    // 65.37 m² × ¥24.50 = ¥1 601.565: half a fen, rounded up once.
    f.units.record(desk1, household('H-E-H02', 6_537, { payrollCode: 'P-0002' }));
    f.units.record(desk1, {
      ...{ unit: 'H-E-H03', account: 'BIZ-CAFE', holder: 'Campus Café Ltd', customerType: 'business' },
      ...{
        validFrom: '2026-10-01',
        contract: 'HC-2026-007',
        seasonFen: 1_250_000,
        reason: 'contract signed',
      },
    });
    // Re-measured after the season started: this season keeps the area in force on its first day.
    f.units.record(
      desk1,
      household('H-E-H01', 9_000, {
        validFrom: '2026-12-01',
        certificate: 'HC-E-H01/2',
        reason: 're-measured',
      }),
    );
    season(f);
    const run = f.fees.bill(billing, '2026-2027');
    expect(run.lines.map((l) => [l.account, l.unit, l.quantityMilli, l.totalFen])).toEqual([
      ['HH-H-E-H01', 'm2', 82_500, 202_125],
      ['HH-H-E-H02', 'm2', 65_370, 160_157],
      ['BIZ-CAFE', 'm2', 0, 1_250_000],
    ]);
    expect(run.totalFen).toBe(202_125 + 160_157 + 1_250_000);
    expect(() => f.fees.bill(billing, '2026-2027')).toThrow(/computed already/);
    expect(() => season(f, 2_600)).toThrow(/billed/);

    const table = f.collection.publish(billing, { run: run.id });
    f.time.now = table.objectionsUntil;
    f.collection.confirm(billing, table.id);
    const notices = f.collection.notices(table.id);
    expect(notices.map((n) => [n.account, n.feeFen])).toEqual([
      ['BIZ-CAFE', 1_250_000],
      ['HH-H-E-H01', 202_125],
    ]);
    expect(f.collection.payrollList(table.id).map((r) => [r.payrollCode, r.deductFen])).toEqual([
      ['P-0002', 160_157],
    ]);
    const html = noticesHtml(notices, f.collection.runOf(table.id), 'en', 'Asia/Shanghai');
    expect(html).toContain('82.50 m²');
    // A business heated under contract has no certified area: its line reads as its contract.
    expect(html).toContain('<td class="num">by contract HC-2026-007</td>');
    expect(html).not.toContain('0.000 m2');
    const zh = noticesHtml(notices, f.collection.runOf(table.id), 'zh', 'Asia/Shanghai');
    expect(zh).toContain('<td class="num">按合同 HC-2026-007</td>');
    expect(html).toContain('2021.25');
    expect(f.audit.query({ subject: `bill-run:${run.id}` })[0]).toMatchObject({
      action: 'heating.fees',
      actor: 'bill.zhao',
    });
  });

  it('agree with a recomputation from the certificates by long multiplication of decimal strings', () => {
    const f = heatingFixture();
    f.time.now = T0 - 40 * DAY;
    // 24 households with areas from a fixed generator (no wall clock, no Math.random).
    let x = 20_261_130;
    const next = () => (x = (x * 1_103_515_245 + 12_345) % 2_147_483_648);
    const units = Array.from({ length: 12 }, (_, i) => [
      `H-E-H${String(i + 1).padStart(2, '0')}`,
      `H-W-H${String(i + 1).padStart(2, '0')}`,
    ]).flat();
    for (const u of units) f.units.record(desk1, household(u, 3_000 + (next() % 15_000)));
    season(f, 2_437);
    const run = f.fees.bill(billing, '2026-2027');
    for (const u of units) {
      const area = f.units.inForce(u, run.period.from)!.basis as { areaCentiM2: number };
      const m2 = `${Math.floor(area.areaCentiM2 / 100)}.${String(area.areaCentiM2 % 100).padStart(2, '0')}`;
      expect(run.lines.find((l) => l.meter === u)!.totalFen, u).toBe(decimalFee(m2, '24.37'));
      expect(areaFeeFen(area.areaCentiM2, 2_437)).toBe(decimalFee(m2, '24.37'));
    }
  });
});

/** m² × yuan as written (two decimals each), digit by digit, rounded half up to the fen. */
function decimalFee(m2: string, yuan: string): number {
  const digits = (s: string) => s.replace('.', '').split('').map(Number).reverse();
  const a = digits(m2);
  const b = digits(yuan);
  const product = new Array<number>(a.length + b.length).fill(0);
  for (let i = 0; i < a.length; i++) for (let j = 0; j < b.length; j++) product[i + j]! += a[i]! * b[j]!;
  for (let k = 0; k < product.length - 1; k++) {
    product[k + 1]! += Math.floor(product[k]! / 10);
    product[k]! %= 10;
  }
  // Four decimals of yuan: the last two digits are hundredths of a fen.
  const fen = Number(product.slice(2).reverse().join(''));
  return product[1]! >= 5 ? fen + 1 : fen;
}
