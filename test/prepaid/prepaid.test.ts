import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import type { IntervalConsumption } from '../../services/metering/storage.ts';
import { PREPAID_ERRORS } from '../../services/money/prepaid/errors.ts';
import {
  clerk,
  clerk2,
  expectRefused,
  lead,
  local,
  metering,
  openVerified,
  operator,
  reader,
  setup,
  supervisor,
  supervisor2,
} from './support.ts';

const dayOf = (meter: string, d: number, value: number | null, m = 9): IntervalConsumption => ({
  meter,
  start: local(2024, m, d),
  end: local(2024, m, d + 1),
  value,
  status: value === null ? 'gap' : 'ok',
});

describe('accounts and the tariff-type check', () => {
  it('opens an account unverified, refuses a sale until a supervisor verifies it', () => {
    const s = setup();
    const a = s.prepaid.openAccount(clerk, {
      id: 'E1-101',
      customerType: 'student-room',
      holder: 'Room E1-101',
      meters: ['m-E1-101'],
    });
    expect(a).toMatchObject({
      tariffType: 'unverified',
      balanceFen: 0,
      openedBy: 'clerk.wang',
      protected: false,
    });
    expectRefused(
      s,
      'TARIFF_TYPE_UNVERIFIED',
      () => s.prepaid.topUp(clerk, { account: 'E1-101', amountFen: 5000, method: 'cash', reference: 'R1' }),
      'E1-101',
    );
    expectRefused(s, 'TARIFF_TYPE_UNVERIFIED', () =>
      s.prepaid.creditFreeQuota(operator, { account: 'E1-101', period: '2024-09', kwh: 5 }),
    );
    expectRefused(s, 'TARIFF_TYPE_UNVERIFIED', () =>
      s.prepaid.applyConsumption(metering, 'E1-101', [dayOf('m-E1-101', 1, 3)]),
    );
    expect(s.prepaid.verifyTariffType(supervisor, 'E1-101')).toMatchObject({
      tariffType: 'verified',
      verifiedBy: 'sup.li',
    });
    expect(
      s.prepaid.topUp(clerk, { account: 'E1-101', amountFen: 5000, method: 'cash', reference: 'R1' })
        .amountFen,
    ).toBe(5000);
    expectRefused(s, 'TARIFF_TYPE_ALREADY_VERIFIED', () => s.prepaid.verifyTariffType(supervisor2, 'E1-101'));
  });

  it('the opener cannot verify their own account; a clerk cannot verify at all', () => {
    const s = setup();
    s.prepaid.openAccount(lead, {
      id: 'W3-7',
      customerType: 'business',
      holder: 'Canteen',
      meters: ['m-W3-7'],
    });
    expectRefused(s, 'SELF_APPROVAL', () => s.prepaid.verifyTariffType(lead, 'W3-7'));
    expectRefused(s, 'FORBIDDEN', () => s.prepaid.verifyTariffType(clerk, 'W3-7'));
    expectRefused(s, 'ACCOUNT_NOT_FOUND', () => s.prepaid.verifyTariffType(supervisor, 'nope'));
  });

  it('refuses a second account with the same id or meter, and malformed input', () => {
    const s = setup();
    openVerified(s.prepaid, 'E1-101');
    expectRefused(s, 'ACCOUNT_EXISTS', () =>
      s.prepaid.openAccount(clerk, {
        id: 'E1-101',
        customerType: 'student-room',
        holder: 'x',
        meters: ['m-x'],
      }),
    );
    expectRefused(s, 'METER_ALREADY_ASSIGNED', () =>
      s.prepaid.openAccount(clerk, {
        id: 'E1-102',
        customerType: 'student-room',
        holder: 'x',
        meters: ['m-E1-101'],
      }),
    );
    expectRefused(s, 'INVALID_REQUEST', () =>
      s.prepaid.openAccount(clerk, {
        id: 'E1-103',
        customerType: 'dorm' as 'public',
        holder: 'x',
        meters: ['m-y'],
      }),
    );
    expectRefused(s, 'FORBIDDEN', () =>
      s.prepaid.openAccount(reader, {
        id: 'E1-104',
        customerType: 'student-room',
        holder: 'x',
        meters: ['m-z'],
      }),
    );
  });
});

describe('top-ups', () => {
  it('a reader may not record a payment', () => {
    const s = setup();
    openVerified(s.prepaid, 'A');
    expectRefused(
      s,
      'FORBIDDEN',
      () => s.prepaid.topUp(reader, { account: 'A', amountFen: 100, method: 'cash', reference: 'R1' }),
      'A',
    );
  });

  it.each([10.5, 0, -100, Number.NaN, Infinity, '100', 1e20, null])(
    'refuses an amount of %s fen',
    (amountFen) => {
      const s = setup();
      openVerified(s.prepaid, 'A');
      expectRefused(
        s,
        'INVALID_AMOUNT',
        () =>
          s.prepaid.topUp(clerk, {
            account: 'A',
            amountFen: amountFen as number,
            method: 'card',
            reference: 'T1',
          }),
        'A',
      );
    },
  );

  it('refuses the same payment reference twice', () => {
    const s = setup();
    openVerified(s.prepaid, 'A');
    openVerified(s.prepaid, 'B');
    s.prepaid.topUp(clerk, { account: 'A', amountFen: 100, method: 'card', reference: 'POS-1' });
    expectRefused(s, 'DUPLICATE_REFERENCE', () =>
      s.prepaid.topUp(clerk2, { account: 'B', amountFen: 100, method: 'card', reference: 'POS-1' }),
    );
    // Issue 22: nor under another method, nor in other letters.
    expectRefused(s, 'DUPLICATE_REFERENCE', () =>
      s.prepaid.topUp(clerk, { account: 'A', amountFen: 100, method: 'cash', reference: 'pos-1' }),
    );
    s.prepaid.topUp(clerk, { account: 'A', amountFen: 100, method: 'cash', reference: 'POS-2' });
    expect(s.prepaid.balance('A')).toBe(200);
  });

  it('books each entry with an audit entry in the same transaction, balance before and after', () => {
    const s = setup();
    openVerified(s.prepaid, 'A');
    const e = s.prepaid.topUp(clerk, {
      account: 'A',
      amountFen: 2500,
      method: 'transfer',
      reference: 'TX-9',
    });
    const [audit] = s.audit.query({ action: 'ledger.' });
    expect(audit).toMatchObject({
      actor: 'clerk.wang',
      action: 'ledger.topup',
      subject: 'account:A',
      before: { balanceFen: 0 },
      after: {
        balanceFen: 2500,
        entry: { id: e.id, amountFen: 2500, method: 'transfer', reference: 'TX-9' },
      },
    });
    expect(s.audit.verify().ok).toBe(true);
  });

  it('the ledger is append-only in the database too', () => {
    const s = setup();
    openVerified(s.prepaid, 'A');
    s.prepaid.topUp(clerk, { account: 'A', amountFen: 100, method: 'cash', reference: 'R' });
    expect(() => s.db.prepare('UPDATE prepaid_ledger SET amount_fen = 1000000').run()).toThrow(/append-only/);
    expect(() => s.db.prepare('DELETE FROM prepaid_ledger').run()).toThrow(/append-only/);
    expect(() =>
      s.db
        .prepare(
          `INSERT INTO prepaid_ledger (account_id, at, type, amount_fen, recorded_by) VALUES ('A', 0, 'topup', 1.5, 'x')`,
        )
        .run(),
    ).toThrow(/CHECK/);
  });
});

describe('refunds', () => {
  it('a clerk requests, another person (a supervisor) approves, up to the balance', () => {
    const s = setup();
    openVerified(s.prepaid, 'A');
    s.prepaid.topUp(clerk, { account: 'A', amountFen: 3000, method: 'cash', reference: 'R1' });
    expectRefused(s, 'INSUFFICIENT_BALANCE', () =>
      s.prepaid.requestRefund(clerk, { account: 'A', amountFen: 3001, method: 'cash', reason: 'moving out' }),
    );
    expectRefused(s, 'FORBIDDEN', () =>
      s.prepaid.requestRefund(reader, { account: 'A', amountFen: 100, method: 'cash', reason: 'x' }),
    );
    const req = s.prepaid.requestRefund(clerk, {
      account: 'A',
      amountFen: 3000,
      method: 'cash',
      reason: 'moving out',
    });
    expect(s.prepaid.balance('A')).toBe(3000);
    expectRefused(s, 'FORBIDDEN', () => s.prepaid.approveRefund(clerk2, req.id));
    const entry = s.prepaid.approveRefund(supervisor, req.id);
    expect(entry).toMatchObject({
      type: 'refund',
      amountFen: -3000,
      recordedBy: 'clerk.wang',
      approvedBy: 'sup.li',
    });
    expect(s.prepaid.balance('A')).toBe(0);
    expectRefused(s, 'REQUEST_NOT_PENDING', () => s.prepaid.approveRefund(supervisor2, req.id));
    expectRefused(s, 'REQUEST_NOT_FOUND', () => s.prepaid.approveRefund(supervisor2, 999));
  });

  it('nobody approves their own refund', () => {
    const s = setup();
    openVerified(s.prepaid, 'A');
    s.prepaid.topUp(clerk, { account: 'A', amountFen: 3000, method: 'cash', reference: 'R1' });
    const req = s.prepaid.requestRefund(lead, {
      account: 'A',
      amountFen: 1000,
      method: 'cash',
      reason: 'overpaid',
    });
    expectRefused(s, 'SELF_APPROVAL', () => s.prepaid.approveRefund(lead, req.id), 'A');
    expectRefused(s, 'SELF_APPROVAL', () => s.prepaid.rejectRefund(lead, req.id), 'A');
    const token = { id: 'token:desk', kind: 'token' as const, roles: ['supervisor' as const] };
    expectRefused(s, 'PERSON_REQUIRED', () => s.prepaid.approveRefund(token, req.id), 'A');
    expect(s.prepaid.rejectRefund(supervisor, req.id, { reason: 'no receipt' }).status).toBe('rejected');
  });

  it('checks the balance again at approval', () => {
    const s = setup();
    openVerified(s.prepaid, 'A');
    s.prepaid.topUp(clerk, { account: 'A', amountFen: 1000, method: 'cash', reference: 'R1' });
    const req = s.prepaid.requestRefund(clerk, {
      account: 'A',
      amountFen: 1000,
      method: 'cash',
      reason: 'x',
    });
    s.prepaid.applyConsumption(metering, 'A', [dayOf('m-A', 1, 1)]); // 61 fen
    expectRefused(s, 'INSUFFICIENT_BALANCE', () => s.prepaid.approveRefund(supervisor, req.id), 'A');
  });

  it('never pays out free quota that is not used up', () => {
    const s = setup();
    openVerified(s.prepaid, 'A');
    s.prepaid.topUp(clerk, { account: 'A', amountFen: 1000, method: 'cash', reference: 'R1' });
    const q = s.prepaid.creditFreeQuota(operator, { account: 'A', period: '2024-09', kwh: 10 });
    s.prepaid.confirmFreeQuota(supervisor, q.id); // 610 fen
    expect(s.prepaid.balance('A')).toBe(1610);
    expect(s.prepaid.refundable('A')).toBe(1000);
    s.prepaid.applyConsumption(metering, 'A', [dayOf('m-A', 1, 4)]); // 244 fen, from the free quota
    expect(s.prepaid.refundable('A')).toBe(1000);
    s.prepaid.applyConsumption(metering, 'A', [dayOf('m-A', 2, 10)]); // 610 fen: quota gone, 244 paid
    expect(s.prepaid.refundable('A')).toBe(756);
    expectRefused(s, 'INSUFFICIENT_BALANCE', () =>
      s.prepaid.requestRefund(clerk, { account: 'A', amountFen: 757, method: 'cash', reason: 'x' }),
    );
  });
});

describe('free quota', () => {
  const rules = [
    {
      name: '2024–25',
      customerTypes: ['student-room' as const],
      kwhPerPersonPerMonth: 5,
      months: ['2024-09', '2024-10', '2024-11', '2024-12', '2025-01'],
    },
  ];

  it('is pending until a second person confirms; then it counts, valued at the tariff of its month', () => {
    const s = setup({ freeQuotaRules: rules });
    openVerified(s.prepaid, 'E1-101', 'student-room', { occupants: 4 });
    const q = s.prepaid.creditFreeQuota(operator, { account: 'E1-101', period: '2024-09', kwh: 20 });
    expect(q).toMatchObject({ status: 'pending', kwhMilli: 20_000, requestedBy: 'op.sun' });
    expect(s.prepaid.balance('E1-101')).toBe(0);
    expectRefused(s, 'FORBIDDEN', () => s.prepaid.confirmFreeQuota(operator, q.id));
    const e = s.prepaid.confirmFreeQuota(supervisor, q.id);
    expect(e).toMatchObject({
      type: 'free-quota',
      amountFen: 1220,
      recordedBy: 'op.sun',
      approvedBy: 'sup.li',
    });
    expect(s.prepaid.balance('E1-101')).toBe(1220);
    expectRefused(s, 'QUOTA_ALREADY_CONFIRMED', () => s.prepaid.confirmFreeQuota(supervisor2, q.id));
    expect(s.audit.query({ subject: `free-quota:${q.id}` }).map((a) => [a.action, a.actor])).toEqual([
      ['free-quota.credit', 'op.sun'],
      ['free-quota.confirm', 'sup.li'],
    ]);
  });

  it('one credit per account and period; only what the rules allow; not by the confirming person', () => {
    const s = setup({ freeQuotaRules: rules });
    openVerified(s.prepaid, 'E1-101', 'student-room', { occupants: 4 });
    openVerified(s.prepaid, 'W-1', 'staff-household');
    expectRefused(s, 'QUOTA_NOT_ELIGIBLE', () =>
      s.prepaid.creditFreeQuota(operator, { account: 'E1-101', period: '2024-09', kwh: 20.001 }),
    );
    expectRefused(s, 'QUOTA_NOT_ELIGIBLE', () =>
      s.prepaid.creditFreeQuota(operator, { account: 'E1-101', period: '2024-07', kwh: 1 }),
    );
    expectRefused(s, 'QUOTA_NOT_ELIGIBLE', () =>
      s.prepaid.creditFreeQuota(operator, { account: 'W-1', period: '2024-09', kwh: 1 }),
    );
    expectRefused(s, 'INVALID_REQUEST', () =>
      s.prepaid.creditFreeQuota(operator, { account: 'E1-101', period: '2024-9', kwh: 1 }),
    );
    expectRefused(s, 'FORBIDDEN', () =>
      s.prepaid.creditFreeQuota(reader, { account: 'E1-101', period: '2024-09', kwh: 1 }),
    );
    const q = s.prepaid.creditFreeQuota(lead, { account: 'E1-101', period: '2024-09', kwh: 10 });
    expectRefused(s, 'QUOTA_ALREADY_CREDITED', () =>
      s.prepaid.creditFreeQuota(operator, { account: 'E1-101', period: '2024-09', kwh: 10 }),
    );
    expectRefused(s, 'SELF_APPROVAL', () => s.prepaid.confirmFreeQuota(lead, q.id), 'E1-101');
    s.prepaid.rejectFreeQuota(supervisor, q.id, { reason: 'wrong number of occupants' });
    expectRefused(s, 'REQUEST_NOT_PENDING', () => s.prepaid.confirmFreeQuota(supervisor, q.id));
    // A rejected credit can be made again, correctly.
    s.prepaid.creditFreeQuota(operator, { account: 'E1-101', period: '2024-09', kwh: 20 });
  });
});

describe('consumption debits', () => {
  it('debits each day once, however often it runs; skips gaps and days not over', () => {
    const s = setup();
    openVerified(s.prepaid, 'A');
    s.prepaid.topUp(clerk, { account: 'A', amountFen: 10_000, method: 'cash', reference: 'R1' });
    const days = [dayOf('m-A', 1, 2.5), dayOf('m-A', 2, null), dayOf('m-A', 3, 0.5), dayOf('m-A', 20, 1)];
    const first = s.prepaid.applyConsumption(metering, 'A', days);
    // 2.5 kWh at 0.61 = 152.5 → 153; 0.5 kWh → 30.5 → 31.
    expect(first.debited.map((d) => d.amountFen)).toEqual([-153, -31]);
    expect(first.skipped.map((k) => k.why)).toEqual(['no-value', 'not-ended']);
    expect(s.prepaid.balance('A')).toBe(10_000 - 184);
    const again = s.prepaid.applyConsumption(metering, 'A', days);
    expect(again.debited).toEqual([]);
    expect(again.skipped.map((k) => k.why)).toEqual([
      'already-debited',
      'no-value',
      'already-debited',
      'not-ended',
    ]);
    // An hour inside a debited day is not charged again either.
    const hour = { ...dayOf('m-A', 1, 1), end: local(2024, 9, 1, 1) };
    expect(s.prepaid.applyConsumption(metering, 'A', [hour]).skipped[0]!.why).toBe('overlaps-debited');
    expect(s.prepaid.balance('A')).toBe(10_000 - 184);
    expect(s.prepaid.applyConsumption(metering, 'A', [dayOf('m-other', 4, 1)]).skipped[0]!.why).toBe(
      'not-on-account',
    );
    expectRefused(s, 'FORBIDDEN', () => s.prepaid.applyConsumption(clerk, 'A', [dayOf('m-A', 5, 1)]));
  });

  it('a batch that fails part-way books nothing', () => {
    const s = setup();
    openVerified(s.prepaid, 'A');
    // 2023 has no tariff: the second day is refused after the first was priced and booked.
    expectRefused(
      s,
      'NO_TARIFF',
      () =>
        s.prepaid.applyConsumption(metering, 'A', [
          dayOf('m-A', 1, 1),
          { ...dayOf('m-A', 1, 1), start: local(2023, 12, 1), end: local(2023, 12, 2) },
        ]),
      'A',
    );
  });

  it('applies block tiers across the days of a month', () => {
    const s = setup();
    openVerified(s.prepaid, 'H', 'staff-household');
    const r = s.prepaid.applyConsumption(metering, 'H', [dayOf('m-H', 1, 150), dayOf('m-H', 2, 100)]);
    // Day 1: 150 × 52.83 = 7924.5 → 7925. Day 2: 50 × 52.83 + 50 × 57.83 = 5533.
    expect(r.debited.map((d) => d.amountFen)).toEqual([-7925, -5533]);
    // A new month starts the blocks again.
    const oct = s.prepaid.applyConsumption(metering, 'H', [dayOf('m-H', 1, 100, 10)]);
    s.time.now = local(2024, 10, 5);
    expect(oct.skipped[0]!.why).toBe('not-ended');
    expect(s.prepaid.applyConsumption(metering, 'H', [dayOf('m-H', 1, 100, 10)]).debited[0]!.amountFen).toBe(
      -5283,
    );
  });

  describe('from the reading store', () => {
    let store: SqliteStore | undefined;
    afterEach(async () => {
      await store?.close();
      store = undefined;
    });

    async function write(meter: string, points: [number, number][]) {
      store = store ?? SqliteStore.open({ path: ':memory:' });
      await store.writeReadings(
        points.map(([ts, kwh], i) => ({
          meter,
          ts,
          seq: i,
          quality: 'good' as const,
          values: { energy_import_kwh: kwh },
          site: 'east',
          gateway: 'gw1',
          kind: 'electricity' as const,
        })),
      );
      return store;
    }

    it('debits whole local days from interval consumption', async () => {
      const s = setup();
      openVerified(s.prepaid, 'A');
      // Hourly readings from 1 Sep 00:00 to 3 Sep 12:00 local, 0.1 kWh an hour.
      const pts: [number, number][] = [];
      for (let h = 0; h <= 60; h++) pts.push([local(2024, 9, 1, h), 100 + h / 10]);
      const st = await write('m-A', pts);
      const r = await s.prepaid.debitConsumption(
        metering,
        { account: 'A', from: local(2024, 9, 1), to: local(2024, 9, 4) },
        st,
      );
      // 2.4 kWh a day at 0.61 = 146.4 → 146; the third day has no reading at its end.
      expect(r.debited.map((d) => [d.quantityMilli, d.amountFen])).toEqual([
        [2400, -146],
        [2400, -146],
      ]);
      expect(r.skipped.map((k) => k.why)).toEqual(['no-value']);
      const again = await s.prepaid.debitConsumption(
        metering,
        { account: 'A', from: local(2024, 9, 1), to: local(2024, 9, 4) },
        st,
      );
      expect(again.debited).toEqual([]);
    });

    it('a meter reset, once approved, lets the day across it be debited', async () => {
      const s = setup();
      openVerified(s.prepaid, 'A');
      // 1 kWh an hour; the register is cleared at 1 Sep 12:00 (at 512 kWh) and counts from 0.
      const pts: [number, number][] = [];
      for (let h = 0; h <= 24; h++) pts.push([local(2024, 9, 1, h), h < 12 ? 500 + h : h - 12]);
      const st = await write('m-A', pts);
      const span = { account: 'A', from: local(2024, 9, 1), to: local(2024, 9, 2) };
      expect((await s.prepaid.debitConsumption(metering, span, st)).skipped[0]!.why).toBe('no-value');
      const req = s.prepaid.requestMeterReset(clerk, {
        account: 'A',
        meter: 'm-A',
        at: local(2024, 9, 1, 12),
        registerBefore: 512,
        registerAfter: 0,
        reason: 'meter cleared after relay fault',
      });
      expectRefused(s, 'FORBIDDEN', () => s.prepaid.approveMeterReset(clerk2, req.id));
      expectRefused(s, 'SELF_APPROVAL', () =>
        s.prepaid.approveMeterReset({ ...lead, id: 'clerk.wang' }, req.id),
      );
      expect(s.prepaid.approveMeterReset(supervisor, req.id)).toMatchObject({
        type: 'meter-reset',
        amountFen: 0,
      });
      const r = await s.prepaid.debitConsumption(metering, span, st);
      // 12 kWh before the reset + 12 after = 24 kWh at 0.61 = 1464 fen.
      expect(r.debited.map((d) => [d.quantityMilli, d.amountFen])).toEqual([[24_000, -1464]]);
      expectRefused(s, 'METER_NOT_ON_ACCOUNT', () =>
        s.prepaid.requestMeterReset(clerk, { account: 'A', meter: 'm-B', at: 0, reason: 'x' }),
      );
    });
  });
});

describe('corrections', () => {
  it('only a supervisor corrects, with a reason, by a whole non-zero number of fen', () => {
    const s = setup();
    openVerified(s.prepaid, 'A');
    expectRefused(s, 'FORBIDDEN', () =>
      s.prepaid.correct(clerk, { account: 'A', amountFen: 100, reason: 'x' }),
    );
    expectRefused(s, 'INVALID_REQUEST', () =>
      s.prepaid.correct(supervisor, { account: 'A', amountFen: 100, reason: ' ' }),
    );
    expectRefused(s, 'INVALID_AMOUNT', () =>
      s.prepaid.correct(supervisor, { account: 'A', amountFen: 0, reason: 'x' }),
    );
    expectRefused(s, 'INVALID_AMOUNT', () =>
      s.prepaid.correct(supervisor, { account: 'A', amountFen: 0.5, reason: 'x' }),
    );
    const e = s.prepaid.correct(supervisor, {
      account: 'A',
      amountFen: -250,
      reason: 'double-counted receipt 17',
    });
    expect(e).toMatchObject({ type: 'correction', amountFen: -250, reason: 'double-counted receipt 17' });
    expect(s.audit.query({ action: 'ledger.correction' })[0]!.reason).toBe('double-counted receipt 17');
  });
});

describe('handover report', () => {
  it('lists the clerk’s entries in the shift with totals per method and type that agree with the ledger', () => {
    const s = setup();
    openVerified(s.prepaid, 'A');
    openVerified(s.prepaid, 'B');
    const shift = { from: local(2024, 9, 20, 8), to: local(2024, 9, 20, 16) };
    s.time.now = local(2024, 9, 20, 7); // before the shift
    s.prepaid.topUp(clerk, { account: 'A', amountFen: 999, method: 'cash', reference: 'early' });
    s.time.now = local(2024, 9, 20, 9);
    s.prepaid.topUp(clerk, { account: 'A', amountFen: 5000, method: 'cash', reference: 'R1' });
    s.prepaid.topUp(clerk, { account: 'B', amountFen: 2000, method: 'card', reference: 'POS-1' });
    s.prepaid.topUp(clerk2, { account: 'B', amountFen: 7000, method: 'cash', reference: 'R2' });
    const req = s.prepaid.requestRefund(clerk, {
      account: 'A',
      amountFen: 1500,
      method: 'cash',
      reason: 'moving',
    });
    s.time.now = local(2024, 9, 20, 11);
    s.prepaid.approveRefund(supervisor, req.id);
    s.prepaid.correct(supervisor, { account: 'B', amountFen: 10, reason: 'x' });

    const r = s.prepaid.handoverReport(clerk, { clerk: 'clerk.wang', ...shift });
    expect(r.entries.map((e) => e.amountFen)).toEqual([5000, 2000, -1500]);
    expect(r.byMethod).toEqual({
      cash: { count: 2, fen: 3500 },
      card: { count: 1, fen: 2000 },
      transfer: { count: 0, fen: 0 },
    });
    expect(r.byType.topup).toEqual({ count: 2, fen: 7000 });
    expect(r.byType.refund).toEqual({ count: 1, fen: -1500 });
    expect(r.netFen).toBe(5500);
    expect(r.cashNetFen).toBe(3500);
    const ledgerSum = s.db
      .prepare(
        'SELECT SUM(amount_fen) AS fen FROM prepaid_ledger WHERE recorded_by = ? AND at >= ? AND at < ?',
      )
      .get('clerk.wang', shift.from, shift.to) as { fen: number };
    expect(r.netFen).toBe(ledgerSum.fen);
    expect(s.audit.query({ action: 'handover.report' })[0]).toMatchObject({
      actor: 'clerk.wang',
      subject: 'clerk:clerk.wang',
      after: { netFen: 5500, entries: 3 },
    });

    expectRefused(s, 'FORBIDDEN', () => s.prepaid.handoverReport(clerk2, { clerk: 'clerk.wang', ...shift }));
    expectRefused(s, 'FORBIDDEN', () => s.prepaid.handoverReport(reader, { clerk: 'reader.chen', ...shift }));
    expect(s.prepaid.handoverReport(supervisor, { clerk: 'clerk.liu', ...shift }).netFen).toBe(7000);
  });
});

describe('error catalogue', () => {
  it.each(Object.entries(PREPAID_ERRORS))('%s has a status and a description', (_code, e) => {
    expect([400, 403, 404, 409]).toContain(e.status);
    expect(e.description.length).toBeGreaterThan(20);
  });

  it('the service refuses with no code outside the catalogue', () => {
    // Every file of the service: prepaid.ts is the front door of parts split by concern.
    const dir = new URL('../../services/money/prepaid/', import.meta.url);
    const sources = readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => readFileSync(new URL(f, dir), 'utf8'))
      .join('\n');
    const used = new Set([...sources.matchAll(/refuse\(\s*'([A-Z_]+)'/g)].map((m) => m[1]!));
    expect(used.size).toBeGreaterThan(10);
    for (const code of used) expect(Object.keys(PREPAID_ERRORS)).toContain(code);
  });
});
