import { describe, expect, it } from 'vitest';
import { CollectionSettingsSchema } from '../../config/schemas/collection.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { Collection } from '../../services/money/collection/collection.ts';
import { parsePeriod } from '../../services/money/billing/period.ts';
import { COLLECTION_ERRORS } from '../../services/money/collection/errors.ts';
import { noticesHtml, payrollCsv } from '../../services/money/collection/print.ts';
import { days } from '../billing/fixture.ts';
import {
  billing,
  clerk,
  clerk2,
  confirmed,
  expectRefused,
  lead,
  local,
  reader,
  setup,
  snapshot,
  supervisor,
  token,
  TZ,
} from './support.ts';

/**
 * Post-paid collection on a real bill run of the billing fixture (November 2026, Asia/Shanghai).
 * The fees per account are the billing tests' hand-checked figures: S-E1-101 5757 fen, B-CAFE
 * 327 627 (its second meter blocked), V-LAUNDRY 51 009, H-12-301 27 694 (payroll code P004211).
 */

describe('fee table, objections, confirmation', () => {
  it('publishes a run for objections, decides them with a second person, then issues notices and the payroll list', async () => {
    const s = await setup();
    const t = s.collection.publish(billing, { run: s.run.id });
    expect(t.state).toBe('open-for-objections');
    // Published 2 December 09:00 local: open through 9 December, closes at local midnight.
    expect(t.objectionsUntil).toBe(local(2026, 12, 10));
    expect(t.accounts.map((a) => [a.account, a.payrollCode, a.feeFen, a.blockedMeters])).toEqual([
      ['B-CAFE', null, 327_627, ['E-CAFE-02']],
      ['H-12-301', 'P004211', 27_694, []],
      ['S-E1-101', null, 5757, []],
      ['V-LAUNDRY', null, 51_009, []],
    ]);
    expectRefused(s.db, 'FEE_TABLE_EXISTS', () => s.collection.publish(billing, { run: s.run.id }));
    expectRefused(s.db, 'FORBIDDEN', () => s.collection.publish(clerk, { run: s.run.id }));

    const o1 = s.collection.object(clerk, {
      feeTable: t.id,
      account: 'S-E1-101',
      text: 'Room empty 10 days',
    });
    const o2 = s.collection.object(lead, { feeTable: t.id, account: 'V-LAUNDRY', text: 'Meter read twice' });
    expectRefused(s.db, 'ACCOUNT_NOT_IN_FEE_TABLE', () =>
      s.collection.object(clerk, { feeTable: t.id, account: 'X-1', text: 'no such' }),
    );
    expectRefused(s.db, 'OBJECTION_PERIOD_OPEN', () => s.collection.confirm(billing, t.id));
    // Whoever recorded an objection does not decide it.
    expectRefused(s.db, 'SELF_APPROVAL', () =>
      s.collection.decideObjection(lead, o2.id, { outcome: 'dismissed', reason: 'checked' }),
    );
    expectRefused(s.db, 'INVALID_AMOUNT', () =>
      s.collection.decideObjection(supervisor, o1.id, { outcome: 'upheld', amountFen: 55.5, reason: 'x' }),
    );

    s.time.now = local(2026, 12, 9, 23, 59);
    s.collection.object(clerk, { feeTable: t.id, account: 'B-CAFE', text: 'late but in time' });
    s.time.now = local(2026, 12, 10, 0, 0);
    expectRefused(s.db, 'OBJECTION_PERIOD_OVER', () =>
      s.collection.object(clerk, { feeTable: t.id, account: 'B-CAFE', text: 'too late' }),
    );
    expectRefused(s.db, 'OBJECTIONS_UNRESOLVED', () => s.collection.confirm(billing, t.id));

    s.collection.decideObjection(supervisor, o1.id, {
      outcome: 'upheld',
      amountFen: 5500,
      reason: 'on-site check: room empty 10–14 Nov',
    });
    s.collection.decideObjection(supervisor, o2.id, { outcome: 'dismissed', reason: 'reads agree' });
    s.collection.decideObjection(supervisor, o2.id + 1, { outcome: 'dismissed', reason: 'no error found' });
    expectRefused(s.db, 'OBJECTION_DECIDED', () =>
      s.collection.decideObjection(supervisor, o1.id, { outcome: 'dismissed', reason: 'again' }),
    );
    s.time.now = local(2026, 12, 10, 10);
    const c = s.collection.confirm(billing, t.id);
    expect(c.state).toBe('confirmed');
    expect(c.totalFen).toBe(327_627 + 27_694 + 5500 + 51_009);
    expectRefused(s.db, 'FEE_TABLE_CONFIRMED', () => s.collection.confirm(billing, t.id));

    const notices = s.collection.notices(t.id);
    expect(notices.map((n) => [n.number, n.account, n.feeFen, n.dueDate])).toEqual([
      ['2026-11-0001', 'B-CAFE', 327_627, '2027-01-09'],
      ['2026-11-0002', 'S-E1-101', 5500, '2027-01-09'],
      ['2026-11-0003', 'V-LAUNDRY', 51_009, '2027-01-09'],
    ]);
    expect(s.collection.payrollList(t.id)).toEqual([
      {
        payrollCode: 'P004211',
        account: 'H-12-301',
        holder: 'Staff household 12-301',
        period: '2026-11',
        feeFen: 27_694,
        creditFen: 0,
        deductFen: 27_694,
      },
    ]);
    expect(payrollCsv(s.collection.payrollList(t.id))).toBe(
      'payroll_code,account,holder,period,fee_fen,credit_fen,deduct_fen,deduct_yuan\n' +
        'P004211,H-12-301,Staff household 12-301,2026-11,27694,0,27694,276.94\n',
    );
    const actions = s.audit.query({ action: 'collection.' }).map((e) => `${e.actor} ${e.action}`);
    expect(actions).toEqual([
      'fin.zhang collection.publish',
      'clerk.wang collection.objection',
      'lead.zhou collection.objection',
      'clerk.wang collection.objection',
      'sup.li collection.objection-decide',
      'sup.li collection.objection-decide',
      'sup.li collection.objection-decide',
      'fin.zhang collection.confirm',
    ]);
    expect(s.audit.verify().ok).toBe(true);
  });

  it('prints one notice per door in Chinese and English, money from integer fen, with the signature line', async () => {
    const s = await confirmed();
    const notices = s.collection.notices(s.table.id);
    for (const lang of ['zh', 'en'] as const) {
      const html = noticesHtml(notices, s.collection.runOf(s.table.id), lang, TZ);
      const sections = html.match(/<section class="notice"/g) ?? [];
      expect(sections).toHaveLength(3);
      for (const n of notices) expect(html).toContain(`data-account="${n.account}"`);
      // No notice for the payroll household: its fee is deducted from salary.
      expect(html).not.toContain('H-12-301');
      expect(html).toContain('<span data-fen="327627">3276.27</span>');
      expect(html).toContain('<span data-fen="51009">510.09</span>');
      expect((html.match(/class="signature"/g) ?? []).length).toBe(3);
      expect(html).toContain(lang === 'zh' ? '签收人' : 'Received by (signature)');
      expect(html).toContain(lang === 'zh' ? '缴费截止日' : 'Pay by');
      // The cafe's second meter was blocked by VEE: the notice says it is not in this fee.
      expect(html.match(/<p class="blocked">[^<]*E-CAFE-02<\/p>/g)).toHaveLength(1);
    }
  });
});

describe('payments', () => {
  it('takes partial payments, refuses another period, another account and bad amounts, keeps an overpayment as credit', async () => {
    const s = await confirmed();
    s.time.now = local(2026, 12, 20, 10);
    const pay = (extra: object) => ({
      notice: '2026-11-0003',
      account: 'V-LAUNDRY',
      period: '2026-11',
      method: 'cash',
      amountFen: 20_000,
      reference: 'RC-7',
      ...extra,
    });
    const first = s.collection.pay(clerk, pay({ reference: 'RC-100' }));
    // The same receipt sent again (a double click, a replayed request) is not booked twice.
    expectRefused(s.db, 'DUPLICATE_REFERENCE', () => s.collection.pay(clerk, pay({ reference: 'rc-100' })));
    expectRefused(s.db, 'REFERENCE_REQUIRED', () => s.collection.pay(clerk, pay({ reference: undefined })));
    expect(first.notice.principalDueFen).toBe(31_009);
    expect(first.payment).toMatchObject({
      principalFen: 20_000,
      penaltyFen: 0,
      creditFen: 0,
      recordedBy: 'clerk.wang',
    });

    // The attacks: a payment booked against another period's notice or another door, nonsense amounts.
    expectRefused(s.db, 'NOTICE_PERIOD_MISMATCH', () => s.collection.pay(clerk, pay({ period: '2026-12' })));
    expectRefused(s.db, 'NOTICE_ACCOUNT_MISMATCH', () => s.collection.pay(clerk, pay({ account: 'B-CAFE' })));
    for (const bad of [-100, 0, 10.5, '100', 1e12, Number.NaN, null])
      expectRefused(s.db, 'INVALID_AMOUNT', () => s.collection.pay(clerk, pay({ amountFen: bad })));
    expectRefused(s.db, 'NOTICE_NOT_FOUND', () => s.collection.pay(clerk, pay({ notice: '2026-11-0099' })));
    expectRefused(s.db, 'REFERENCE_REQUIRED', () =>
      s.collection.pay(clerk, pay({ method: 'transfer', reference: undefined })),
    );
    expectRefused(s.db, 'FORBIDDEN', () => s.collection.pay(reader, pay({})));
    expectRefused(s.db, 'FORBIDDEN', () => s.collection.pay(billing, pay({})));
    s.collection.pay(clerk2, pay({ method: 'card', amountFen: 1009, reference: 'POS-77' }));
    expectRefused(s.db, 'DUPLICATE_REFERENCE', () =>
      s.collection.pay(clerk, pay({ method: 'card', amountFen: 1, reference: 'pos-77' })),
    );

    // Paying more than owed: the fee is settled, the rest is the account's credit.
    const over = s.collection.pay(clerk, pay({ method: 'transfer', amountFen: 40_000, reference: 'BK-1' }));
    expect(over.payment).toMatchObject({ principalFen: 30_000, penaltyFen: 0, creditFen: 10_000 });
    expect(over.notice.outstandingFen).toBe(0);
    expect(over.creditBalanceFen).toBe(10_000);
    const sums = s.db
      .prepare(
        'SELECT SUM(amount_fen) AS a, SUM(principal_fen + penalty_fen + credit_fen) AS b FROM collection_payments',
      )
      .get() as { a: number; b: number };
    expect(sums).toEqual({ a: 61_009, b: 61_009 });
    // Nothing edits a payment afterwards, not even by SQL.
    expect(() => s.db.prepare('UPDATE collection_payments SET amount_fen = 1').run()).toThrow(/append-only/);
    expect(() => s.db.prepare('DELETE FROM collection_credits').run()).toThrow(/append-only/);
  });

  it('sets the credit against the next period’s notice', async () => {
    const s = await confirmed();
    s.time.now = local(2026, 12, 20, 10);
    s.collection.pay(clerk, {
      notice: '2026-11-0002',
      account: 'S-E1-101',
      period: '2026-11',
      method: 'cash',
      amountFen: 6257,
      reference: 'RC-1',
    });
    expect(s.collection.creditBalance('S-E1-101')).toBe(500);
    s.src.setDays('E-E1-101', 'energy_import_kwh', [2026, 12, 1], days(31, 3), 1616.5);
    s.time.now = local(2027, 1, 2, 9);
    const account = s.run.accounts.find((a) => a.id === 'S-E1-101')!;
    const dec = await s.runs.run(billing, { period: parsePeriod('2026-12', TZ), accounts: [account] });
    const t = s.collection.publish(billing, { run: dec.id });
    s.time.now = t.objectionsUntil;
    s.collection.confirm(billing, t.id);
    const [n] = s.collection.notices(t.id);
    const fee = dec.lines.reduce((sum, l) => sum + l.totalFen, 0);
    expect(n).toMatchObject({
      account: 'S-E1-101',
      feeFen: fee,
      paidPrincipalFen: 500,
      principalDueFen: fee - 500,
    });
    expect(n!.payments.map((p) => p.method)).toEqual(['credit']);
    expect(s.collection.creditBalance('S-E1-101')).toBe(0);
    // The November overpayment cannot be reversed now: its credit paid part of December.
    const nov = s.collection.notice('2026-11-0002').payments.at(-1)!;
    const r = s.collection.requestReversal(clerk, nov.id, { reason: 'typed 62.57 for 57.57' });
    expectRefused(s.db, 'REVERSAL_CREDIT_USED', () =>
      s.collection.decideReversal(supervisor, r.id, { approve: true }),
    );
    expectRefused(s.db, 'REVERSAL_NOT_ALLOWED', () =>
      s.collection.requestReversal(clerk, n!.payments[0]!.id, { reason: 'a set-off' }),
    );
  });

  it('reverses a payment recorded by mistake only with an independent second person, latest first', async () => {
    const s = await confirmed();
    s.time.now = local(2026, 12, 20, 10);
    const pay = (by: typeof clerk, amountFen: number, reference: string) =>
      s.collection.pay(by, {
        ...{ notice: '2026-11-0003', account: 'V-LAUNDRY', period: '2026-11' },
        ...{ method: 'cash', amountFen, reference },
      }).payment;
    const right = pay(clerk, 20_000, 'RC-1');
    const wrong = pay(lead, 2_000, 'RC-2'); // booked by mistake: the customer had paid once
    expect(s.collection.notice('2026-11-0003').principalDueFen).toBe(29_009);
    expectRefused(s.db, 'REVERSAL_NOT_LATEST', () =>
      s.collection.requestReversal(clerk, right.id, { reason: 'x' }),
    );
    expectRefused(s.db, 'FORBIDDEN', () =>
      s.collection.requestReversal(supervisor, wrong.id, { reason: 'x' }),
    );
    const r = s.collection.requestReversal(clerk, wrong.id, {
      reason: 'receipt RC-2 was voided at the counter',
    });
    expectRefused(s.db, 'REVERSAL_EXISTS', () =>
      s.collection.requestReversal(clerk2, wrong.id, { reason: 'again' }),
    );
    // Neither who asked nor who recorded the payment approves it.
    expectRefused(s.db, 'FORBIDDEN', () => s.collection.decideReversal(clerk, r.id, { approve: true }));
    expectRefused(s.db, 'SELF_APPROVAL', () => s.collection.decideReversal(lead, r.id, { approve: true }));
    s.time.now = local(2026, 12, 21, 9);
    const done = s.collection.decideReversal(supervisor, r.id, { approve: true });
    expect(done).toMatchObject({ status: 'approved', decidedBy: 'sup.li', requestedBy: 'clerk.wang' });
    const after = s.collection.notice('2026-11-0003');
    expect([after.principalDueFen, after.payments.map((p) => p.id)]).toEqual([31_009, [right.id]]);
    // As of before the approval the payment still counted: history is not rewritten.
    expect(s.collection.notice('2026-11-0003', local(2026, 12, 20, 10)).principalDueFen).toBe(29_009);
    expectRefused(s.db, 'REVERSAL_DECIDED', () =>
      s.collection.decideReversal(supervisor, r.id, { approve: false }),
    );
    expect(s.db.prepare('SELECT COUNT(*) AS n FROM collection_payments').get()).toEqual({ n: 2 });
    expect(s.audit.query({ action: 'collection.reversal' }).map((e) => `${e.actor} ${e.action}`)).toEqual([
      'clerk.wang collection.reversal-request',
      'sup.li collection.reversal-approve',
    ]);
  });
});

describe('arrears, reminders, penalties, waivers', () => {
  it('ages arrears in campus days', async () => {
    const s = await confirmed();
    const bucketOf = (asOf: number) =>
      s.collection.arrears(billing, asOf).notices.find((n) => n.account === 'V-LAUNDRY')?.bucket ?? null;
    // Due 9 January (campus time): overdue from local midnight, while UTC still says 9 January.
    expect(bucketOf(local(2027, 1, 9, 23, 59))).toBe(null);
    expect(new Date(local(2027, 1, 10, 0, 30)).toISOString()).toMatch(/^2027-01-09T16:30/);
    expect(s.collection.notice('2026-11-0003', local(2027, 1, 10, 0, 30)).daysOverdue).toBe(1);
    expect(bucketOf(local(2027, 2, 8, 23))).toBe('0-30');
    expect(bucketOf(local(2027, 2, 9, 0, 10))).toBe('31-60');
    expect(bucketOf(local(2027, 4, 9, 12))).toBe('61-90');
    expect(bucketOf(local(2027, 4, 10, 12))).toBe('>90');
    const report = s.collection.arrears(billing, local(2027, 2, 9, 12));
    expect(report.buckets['31-60']).toEqual({ count: 3, fen: 327_627 + 5757 + 51_009 });
    expect(report.totalFen).toBe(327_627 + 5757 + 51_009);
  });

  it('charges the penalty after the reminder and the grace days, on the unpaid fee, half up once', async () => {
    const s = await confirmed();
    const n = '2026-11-0002'; // S-E1-101, 5757 fen, due 2027-01-09
    s.time.now = local(2027, 1, 5, 10);
    expectRefused(s.db, 'NOT_OVERDUE', () => s.collection.remind(clerk, { notice: n, channel: 'door' }));
    // Without a reminder the rule charges nothing, however late.
    expect(s.collection.notice(n, local(2027, 3, 1)).penaltyAccruedFen).toBe(0);
    s.time.now = local(2027, 1, 12, 10);
    s.collection.remind(clerk, { notice: n, channel: 'door', note: 'left with a neighbour' });
    // Grace 15 days after the due date: 25 January is the first penalty day; to 3 February, 10 days.
    let st = s.collection.notice(n, local(2027, 2, 3, 12));
    expect([st.penaltyDays, st.penaltyAccruedFen]).toEqual([10, 29]); // 5757 × 0.0005 × 10 = 28.785
    s.time.now = local(2027, 2, 3, 12);
    s.collection.pay(clerk, {
      notice: n,
      account: 'S-E1-101',
      period: '2026-11',
      method: 'cash',
      amountFen: 3000,
      reference: 'RC-2',
    });
    // The fee first: 2757 left, charged from 4 February; 28.785 + 2757 × 0.0005 × 7 = 38.4345.
    st = s.collection.notice(n, local(2027, 2, 10, 12));
    expect([st.principalDueFen, st.penaltyDays, st.penaltyAccruedFen, st.outstandingFen]).toEqual([
      2757, 17, 38, 2795,
    ]);
    s.time.now = local(2027, 2, 10, 12);
    const done = s.collection.pay(clerk, {
      notice: n,
      account: 'S-E1-101',
      period: '2026-11',
      method: 'cash',
      amountFen: 3295,
      reference: 'RC-3',
    });
    expect(done.payment).toMatchObject({ principalFen: 2757, penaltyFen: 38, creditFen: 500 });
    // Paid in full: the penalty stops.
    expect(s.collection.notice(n, local(2027, 6, 1)).penaltyAccruedFen).toBe(38);
    expect(s.collection.notice(n, local(2027, 6, 1)).outstandingFen).toBe(0);
  });

  it('waives a penalty only with a second, independent person', async () => {
    const s = await confirmed();
    const n = '2026-11-0001'; // B-CAFE, 327 627 fen
    s.time.now = local(2027, 1, 12, 10);
    s.collection.remind(clerk, { notice: n, channel: 'phone' });
    s.time.now = local(2027, 2, 3, 12);
    expect(s.collection.notice(n).penaltyDueFen).toBe(1638); // 327 627 × 0.0005 × 10 = 1638.135
    expectRefused(s.db, 'WAIVER_EXCEEDS_PENALTY', () =>
      s.collection.requestWaiver(clerk, { notice: n, amountFen: 1639, reason: 'too much' }),
    );
    expectRefused(s.db, 'INVALID_AMOUNT', () =>
      s.collection.requestWaiver(clerk, { notice: n, amountFen: -5, reason: 'negative' }),
    );
    const own = s.collection.requestWaiver(lead, { notice: n, amountFen: 1000, reason: 'kitchen closed' });
    expectRefused(s.db, 'SELF_APPROVAL', () => s.collection.decideWaiver(lead, own.id, { approve: true }));
    expectRefused(s.db, 'PERSON_REQUIRED', () => s.collection.decideWaiver(token, own.id, { approve: true }));
    expectRefused(s.db, 'FORBIDDEN', () => s.collection.decideWaiver(clerk2, own.id, { approve: true }));
    const w = s.collection.decideWaiver(supervisor, own.id, { approve: true, reason: 'closure confirmed' });
    expect(w).toMatchObject({ status: 'approved', decidedBy: 'sup.li', requestedBy: 'lead.zhou' });
    expect(s.collection.notice(n).penaltyDueFen).toBe(638);
    expectRefused(s.db, 'WAIVER_DECIDED', () =>
      s.collection.decideWaiver(supervisor, own.id, { approve: false }),
    );
    // A second waiver cannot take more than what is left.
    const more = s.collection.requestWaiver(clerk, { notice: n, amountFen: 638, reason: 'rest' });
    s.collection.pay(clerk, {
      notice: n,
      account: 'B-CAFE',
      period: '2026-11',
      method: 'cash',
      amountFen: 327_627 + 300,
      reference: 'RC-4',
    });
    expectRefused(s.db, 'WAIVER_EXCEEDS_PENALTY', () =>
      s.collection.decideWaiver(supervisor, more.id, { approve: true }),
    );
    const trail = s.audit.query({ subject: `notice:${n}` }).map((e) => `${e.actor} ${e.action}`);
    expect(trail).toEqual([
      'clerk.wang collection.reminder',
      'lead.zhou collection.waiver-request',
      'sup.li collection.waiver-approve',
      'clerk.wang collection.waiver-request',
      'clerk.wang collection.payment',
    ]);
  });
});

describe('a crash half-way', () => {
  /** Fails the next insert into `table` as a crash there would: the transaction must leave nothing. */
  const crashOn = (db: Awaited<ReturnType<typeof setup>>['db'], table: string) =>
    db.exec(`CREATE TEMP TRIGGER crash BEFORE INSERT ON ${table} BEGIN SELECT RAISE(ABORT, 'crash'); END;`);

  it('confirming stops before the payroll list: no notice, no confirmation, no audit entry', async () => {
    const s = await setup();
    const t = s.collection.publish(billing, { run: s.run.id });
    s.time.now = t.objectionsUntil;
    crashOn(s.db, 'payroll_deductions');
    const before = snapshot(s.db);
    expect(() => s.collection.confirm(billing, t.id)).toThrow(/crash/);
    expect(snapshot(s.db)).toEqual(before);
    expect(s.collection.feeTable(t.id).state).toBe('awaiting-confirmation');
    s.db.exec('DROP TRIGGER crash');
    expect(s.collection.confirm(billing, t.id).state).toBe('confirmed');
  });

  it('an overpayment stops before its credit is kept: the payment is not booked either', async () => {
    const s = await confirmed();
    crashOn(s.db, 'collection_credits');
    const before = snapshot(s.db);
    const overpay = {
      ...{ notice: '2026-11-0002', account: 'S-E1-101', period: '2026-11' },
      ...{ method: 'cash', amountFen: 9000, reference: 'RC-1' },
    };
    expect(() => s.collection.pay(clerk, overpay)).toThrow(/crash/);
    expect(snapshot(s.db)).toEqual(before);
    s.db.exec('DROP TRIGGER crash');
    expect(s.collection.pay(clerk, overpay).creditBalanceFen).toBe(9000 - 5757);
  });
});

describe('the database', () => {
  it('refuses to start on a foreign payment_notices table, naming it, instead of failing at the first notice', async () => {
    const s = await setup();
    const db = openBackofficeDb(':memory:');
    db.exec('CREATE TABLE payment_notices (id INTEGER PRIMARY KEY, order_no TEXT)');
    expect(
      () =>
        new Collection({
          ...{ db, audit: s.audit, timezone: TZ, runs: s.runs },
          settings: CollectionSettingsSchema.parse({}),
        }),
    ).toThrow(/payment_notices that is not post-paid collection's \(columns: id, order_no\)/);
  });
});

describe('error catalogue', () => {
  it.each(Object.entries(COLLECTION_ERRORS))('%s has a status and a description', (_code, e) => {
    expect(e.status).toBeGreaterThanOrEqual(400);
    expect(e.description.length).toBeGreaterThan(10);
  });
});
