import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFixture, type ApiFixture } from './support.ts';

let f: ApiFixture;
beforeAll(async () => {
  f = await apiFixture();
});
afterAll(() => f.close());

const open = (id: string, by: 'clerk' | 'lead' = 'clerk') =>
  f.call(by, 'POST', '/api/accounts', {
    id,
    customerType: 'student-room',
    holder: `Room ${id}`,
    meters: [`m-${id}`],
    occupants: 4,
  });

const topUp = (account: string, amountFen: number, reference: string, who: 'clerk' | 'lead' = 'clerk') =>
  f.call(who, 'POST', '/api/topups', { account, amountFen, method: 'cash', reference });

describe('sales', () => {
  it('refuses a sale on an unverified tariff type (409), sells once a supervisor verified it', async () => {
    expect((await open('E1-101')).statusCode).toBe(201);
    const refused = await topUp('E1-101', 5000, 'R-0001');
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('TARIFF_TYPE_UNVERIFIED');

    const verified = await f.call('supervisor', 'POST', '/api/accounts/E1-101/verify-tariff');
    expect(verified.statusCode).toBe(200);
    expect(verified.json()).toMatchObject({ tariffType: 'verified', verifiedBy: 'supervisor.test' });

    const sold = await topUp('E1-101', 5000, 'R-0001');
    expect(sold.statusCode).toBe(201);
    expect(sold.json()).toMatchObject({ type: 'topup', amountFen: 5000, recordedBy: 'clerk.test' });
    const account = await f.call('supervisor', 'GET', '/api/accounts/E1-101');
    expect(account.json()).toMatchObject({ id: 'E1-101', balanceFen: 5000, refundableFen: 5000 });
    const ledger = await f.call('clerk', 'GET', '/api/accounts/E1-101/ledger');
    expect(ledger.json().map((e: { amountFen: number }) => e.amountFen)).toEqual([5000]);

    const twice = await topUp('E1-101', 5000, 'R-0001');
    expect(twice.statusCode).toBe(409);
    expect(twice.json().code).toBe('DUPLICATE_REFERENCE');
  });

  it('the opener may not verify their own account; a reader may not sell; unknown accounts are 404', async () => {
    expect((await open('E1-102', 'lead')).statusCode).toBe(201);
    const self = await f.call('lead', 'POST', '/api/accounts/E1-102/verify-tariff');
    expect(self.statusCode).toBe(403);
    expect(self.json().code).toBe('SELF_APPROVAL');
    expect((await topUp('E1-102', 100, 'R-0100', 'clerk')).json().code).toBe('TARIFF_TYPE_UNVERIFIED');
    const reader = await f.call('reader', 'POST', '/api/topups', {
      account: 'E1-101',
      amountFen: 100,
      method: 'cash',
      reference: 'R-0101',
    });
    expect(reader.statusCode).toBe(403);
    expect(f.prepaid.ledger('E1-101')).toHaveLength(1);
    expect((await f.call('clerk', 'GET', '/api/accounts/NOPE')).statusCode).toBe(404);
  });
});

describe('two-person steps', () => {
  beforeAll(async () => {
    await open('E2-201', 'lead');
    await f.call('supervisor', 'POST', '/api/accounts/E2-201/verify-tariff');
    await topUp('E2-201', 10_000, 'R-0201', 'lead');
  });

  it('refund: the requester may not approve it (403 SELF_APPROVAL); another supervisor books it', async () => {
    const req = await f.call('lead', 'POST', '/api/refunds', {
      account: 'E2-201',
      amountFen: 3000,
      method: 'cash',
      reason: 'moving out',
    });
    expect(req.statusCode).toBe(201);
    const id = req.json().id as number;
    const pending = await f.call('supervisor', 'GET', '/api/prepaid-requests?kind=refund');
    expect(pending.json().map((r: { id: number }) => r.id)).toEqual([id]);

    const self = await f.call('lead', 'POST', `/api/refunds/${id}/approve`);
    expect(self.statusCode).toBe(403);
    expect(self.json().code).toBe('SELF_APPROVAL');
    expect(f.prepaid.balance('E2-201')).toBe(10_000);

    const ok = await f.call('supervisor', 'POST', `/api/refunds/${id}/approve`);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({
      type: 'refund',
      amountFen: -3000,
      recordedBy: 'lead.test',
      approvedBy: 'supervisor.test',
    });
    expect((await f.call('clerk', 'GET', '/api/accounts/E2-201')).json().balanceFen).toBe(7000);
    const again = await f.call('supervisor2', 'POST', `/api/refunds/${id}/approve`);
    expect(again.json().code).toBe('REQUEST_NOT_PENDING');
  });

  it('free quota: the person who credited it may not confirm it; another supervisor does', async () => {
    const credit = await f.call('lead', 'POST', '/api/free-quota', {
      account: 'E2-201',
      period: '2026-10',
      kwh: 20,
    });
    expect(credit.statusCode).toBe(201);
    const id = credit.json().id as number;
    const self = await f.call('lead', 'POST', `/api/free-quota/${id}/confirm`);
    expect(self.statusCode).toBe(403);
    expect(self.json().code).toBe('SELF_APPROVAL');
    const ok = await f.call('supervisor2', 'POST', `/api/free-quota/${id}/confirm`);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({
      type: 'free-quota',
      recordedBy: 'lead.test',
      approvedBy: 'supervisor2.test',
    });
    expect(ok.json().amountFen).toBeGreaterThan(0);
    expect(Number.isInteger(ok.json().amountFen)).toBe(true);
  });

  it('meter reset and rejection with a reason; corrections by a supervisor only', async () => {
    const reset = await f.call('clerk', 'POST', '/api/meter-resets', {
      account: 'E2-201',
      meter: 'm-E2-201',
      at: f.clock() - 3_600_000,
      registerBefore: 1234.5,
      reason: 'meter exchanged',
    });
    expect(reset.statusCode).toBe(201);
    const rejected = await f.call('supervisor', 'POST', `/api/meter-resets/${reset.json().id}/reject`, {
      reason: 'no exchange form',
    });
    expect(rejected.json()).toMatchObject({ status: 'rejected', decisionReason: 'no exchange form' });

    const body = { account: 'E2-201', amountFen: -150, reason: 'mistyped sale' };
    expect((await f.call('clerk', 'POST', '/api/corrections', body)).statusCode).toBe(403);
    expect(
      (await f.call('supervisor', 'POST', '/api/corrections', { ...body, amountFen: 0 })).statusCode,
    ).toBe(400);
    const corrected = await f.call('supervisor', 'POST', '/api/corrections', body);
    expect(corrected.statusCode).toBe(201);
    expect(corrected.json()).toMatchObject({ type: 'correction', amountFen: -150 });
  });

  it("prints the clerk's handover report for a local day; a clerk only their own", async () => {
    const mine = await f.call('lead', 'POST', '/api/handover-reports', { date: '2026-11-01' });
    expect(mine.statusCode).toBe(201);
    const report = mine.json();
    expect(report.clerk).toBe('lead.test');
    // 2026-11-01 in Shanghai starts at 2026-10-31T16:00Z; the fixture's clock is 2026-11-01T00:00Z.
    expect(report.from).toBe(Date.UTC(2026, 9, 31, 16));
    expect(report.to - report.from).toBe(86_400_000);
    expect(report.byMethod.cash).toEqual({ count: 2, fen: 10_000 - 3000 });
    expect(report.byType['free-quota'].count).toBe(1);

    const other = await f.call('clerk', 'POST', '/api/handover-reports', {
      clerk: 'lead.test',
      date: '2026-11-01',
    });
    expect(other.statusCode).toBe(403);
    const both = await f.call('lead', 'POST', '/api/handover-reports', {
      date: '2026-11-01',
      from: 0,
      to: 1,
    });
    expect(both.statusCode).toBe(400);
    expect(f.audit.query({ action: 'handover.report' })).toHaveLength(1);
  });
});
