import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import { parseTariffTable } from '../../services/money/billing/tariffs.ts';
import { Prepaid } from '../../services/money/prepaid/prepaid.ts';
import { RECONCILIATION_ERRORS } from '../../services/money/reconciliation/errors.ts';
import { Reconciliation } from '../../services/money/reconciliation/reconciliation.ts';
import { clerk, confirmed, lead, local, supervisor, TZ } from '../collection/support.ts';

/**
 * The half-monthly reconciliation over real ledgers: prepaid sales and refunds in the prepaid
 * ledger, post-paid payments against the notices of a real bill run, finance's records and the
 * inspection list; 16–31 December 2026 in Asia/Shanghai.
 */

const user = (id: string, ...roles: Actor['roles']): Actor => ({ id, kind: 'user', roles });
const finance = user('fin.qian', 'finance');
/** A supervisor who also keeps finance records (the roles allow it; signing that half does not). */
const financeSupervisor = user('fin.head', 'finance', 'supervisor');
const assistant = user('asst.sun', 'assistant');
const inspector = user('insp.chen', 'inspector');
const assistantToken: Actor = { id: 'token:asst', kind: 'token', roles: ['assistant'] };

const tariffs = parseTariffTable(
  JSON.parse(
    readFileSync(new URL('../../services/money/billing/tariffs.example.json', import.meta.url), 'utf8'),
  ),
);

function thrown(fn: () => unknown): ServiceError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ServiceError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

async function halfMonth() {
  const s = await confirmed();
  const prepaid = new Prepaid({ db: s.db, audit: s.audit, tariffs, clock: s.clock });
  const recon = new Reconciliation({ db: s.db, audit: s.audit, clock: s.clock, timezone: TZ });
  s.time.now = local(2026, 12, 14, 9);
  prepaid.openAccount(clerk, {
    id: 'E1-101',
    customerType: 'student-room',
    holder: 'Room E1-101',
    meters: ['m-1'],
    occupants: 4,
  });
  prepaid.verifyTariffType(supervisor, 'E1-101');
  const at = (t: number, fn: () => unknown) => {
    s.time.now = t;
    return fn();
  };
  // Just before the half month, on its first and last minutes, and just after.
  at(local(2026, 12, 15, 23, 59), () =>
    prepaid.topUp(clerk, { account: 'E1-101', amountFen: 999, method: 'cash', reference: 'R-0' }),
  );
  at(local(2026, 12, 16, 0, 0), () =>
    prepaid.topUp(clerk, { account: 'E1-101', amountFen: 5000, method: 'cash', reference: 'R-1' }),
  );
  at(local(2026, 12, 17, 10), () =>
    prepaid.topUp(clerk, { account: 'E1-101', amountFen: 10_000, method: 'card', reference: 'POS-1' }),
  );
  at(local(2026, 12, 18, 10), () =>
    prepaid.topUp(clerk, { account: 'E1-101', amountFen: 2000, method: 'transfer', reference: 'BK-9' }),
  );
  at(local(2026, 12, 19, 10), () =>
    prepaid.creditFromProvider({
      account: 'E1-101',
      amountFen: 3000,
      method: 'transfer',
      reference: 'wx:T1',
      recordedBy: 'payments:wx',
    }),
  );
  const refund = at(local(2026, 12, 20, 10), () =>
    prepaid.requestRefund(clerk, {
      account: 'E1-101',
      amountFen: 1500,
      method: 'cash',
      reason: 'moving out',
    }),
  ) as { id: number };
  at(local(2026, 12, 21, 10), () => prepaid.approveRefund(supervisor, refund.id));
  const pay = (notice: string, account: string, method: string, amountFen: number, reference?: string) =>
    s.collection.pay(clerk, {
      notice,
      account,
      period: '2026-11',
      method,
      amountFen,
      ...(reference ? { reference } : {}),
    });
  at(local(2026, 12, 22, 10), () => pay('2026-11-0003', 'V-LAUNDRY', 'cash', 20_000, 'RC-1'));
  at(local(2026, 12, 23, 10), () => pay('2026-11-0001', 'B-CAFE', 'transfer', 327_627, 'BK-CAFE'));
  // A cash payment booked by mistake and reversed (two people) within the half month: net nothing.
  const wrong = at(local(2026, 12, 24, 10), () => pay('2026-11-0003', 'V-LAUNDRY', 'cash', 2000, 'RC-X')) as {
    payment: { id: number };
  };
  const reversal = s.collection.requestReversal(clerk, wrong.payment.id, { reason: 'receipt RC-X voided' });
  at(local(2026, 12, 24, 11), () => s.collection.decideReversal(supervisor, reversal.id, { approve: true }));
  at(local(2026, 12, 31, 23, 59), () => pay('2026-11-0002', 'S-E1-101', 'card', 5757, 'POS-2'));
  at(local(2027, 1, 1, 0, 0), () =>
    prepaid.topUp(clerk, { account: 'E1-101', amountFen: 777, method: 'cash', reference: 'R-2' }),
  );
  return { ...s, prepaid, recon };
}

describe('half-monthly reconciliation', () => {
  it('names every difference, is signed by clerk, assistant and supervisor in order, and cannot be signed unexplained', async () => {
    const s = await halfMonth();
    const H = '2026-12-H2';
    s.time.now = local(2026, 12, 31, 12);
    expect(thrown(() => s.recon.prepare(clerk, { half: H })).code).toBe('HALF_NOT_OVER');
    s.time.now = local(2027, 1, 2, 9);
    // Finance: cash 5000 + 20 000 − 1500 = 23 500 expected, 23 400 deposited (one slip missing).
    s.recon.recordFinance(finance, { half: H, method: 'cash', amountFen: 23_400, reference: 'DEP-1216' });
    s.recon.recordFinance(finance, { half: H, method: 'card', amountFen: 15_757, reference: 'POS-BATCH' });
    s.recon.recordFinance(finance, { half: H, method: 'transfer', amountFen: 329_627, reference: 'STMT-12' });
    // The inspection list lacks the card payment of S-E1-101.
    s.recon.recordInspection(inspector, { half: H, notice: '2026-11-0003', amountFen: 20_000 });
    s.recon.recordInspection(inspector, { half: H, notice: '2026-11-0001', amountFen: 327_627 });
    expect(
      thrown(() => s.recon.recordFinance(clerk, { half: H, method: 'cash', amountFen: 1, reference: 'x' }))
        .code,
    ).toBe('FORBIDDEN');
    for (const bad of [0, 1.5, '100'])
      expect(
        thrown(() =>
          s.recon.recordFinance(finance, { half: H, method: 'cash', amountFen: bad, reference: 'x' }),
        ).code,
      ).toBe('INVALID_AMOUNT');
    expect(
      thrown(() => s.recon.recordInspection(inspector, { half: H, notice: 'n', amountFen: -1 })).code,
    ).toBe('INVALID_AMOUNT');
    expect(thrown(() => s.recon.prepare(clerk, { half: '2026-12-H3' })).code).toBe('INVALID_HALF_MONTH');

    const v1 = s.recon.prepare(clerk, { half: H });
    const t = v1.figures.takings;
    expect(t.prepaidSales).toEqual({
      cash: { count: 1, fen: 5000 },
      card: { count: 1, fen: 10_000 },
      transfer: { count: 1, fen: 2000 },
    });
    expect(t.refunds.cash).toEqual({ count: 1, fen: -1500 });
    expect([t.postpaid.cash, t.reversals.cash]).toEqual([
      { count: 2, fen: 22_000 },
      { count: 1, fen: -2000 },
    ]);
    expect(t.online).toEqual({ count: 1, fen: 3000 });
    expect(t.net).toEqual({ cash: 23_500, card: 15_757, transfer: 329_627 });
    expect(v1.figures.differences).toEqual([
      { key: 'method:cash', kind: 'finance', systemFen: 23_500, otherFen: 23_400, differenceFen: 100 },
      { key: 'notice:2026-11-0002', kind: 'inspection', systemFen: 5757, otherFen: 0, differenceFen: 5757 },
    ]);
    expect(thrown(() => s.recon.sign(clerk, v1.id)).code).toBe('UNEXPLAINED_DIFFERENCE');
    s.recon.explain(clerk, v1.id, {
      key: 'notice:2026-11-0002',
      text: 'paid by card on the 31st after the list was drawn',
    });
    expect(thrown(() => s.recon.explain(clerk, v1.id, { key: 'method:card', text: 'x' })).code).toBe(
      'NO_SUCH_DIFFERENCE',
    );
    expect(thrown(() => s.recon.sign(clerk, v1.id)).code).toBe('UNEXPLAINED_DIFFERENCE');

    // Finance finds the missing slip: version 1 is stale; version 2 needs a reason.
    s.recon.recordFinance(financeSupervisor, {
      half: H,
      method: 'cash',
      amountFen: 100,
      reference: 'DEP-1231',
    });
    s.recon.explain(clerk, v1.id, { key: 'method:cash', text: 'one deposit slip not yet entered' });
    expect(thrown(() => s.recon.sign(clerk, v1.id)).code).toBe('REPORT_STALE');
    expect(thrown(() => s.recon.prepare(clerk, { half: H })).code).toBe('REASON_REQUIRED');
    const v2 = s.recon.prepare(lead, { half: H, reason: 'deposit slip DEP-1231 entered by finance' });
    expect(v2.version).toBe(2);
    expect(v2.figures.differences.map((d) => d.key)).toEqual(['notice:2026-11-0002']);
    expect(thrown(() => s.recon.sign(clerk, v1.id)).code).toBe('SUPERSEDED');
    s.recon.explain(lead, v2.id, {
      key: 'notice:2026-11-0002',
      text: 'paid on the 31st after the list was drawn',
    });

    // In order, three independent people, none of them a keeper of this half month's records.
    expect(thrown(() => s.recon.sign(assistant, v2.id)).code).toBe('WRONG_SIGNING_STEP');
    s.recon.sign(lead, v2.id);
    expect(
      thrown(() => s.recon.explain(clerk, v2.id, { key: 'notice:2026-11-0002', text: 'again' })).code,
    ).toBe('REPORT_SIGNED');
    expect(thrown(() => s.recon.sign(supervisor, v2.id)).code).toBe('WRONG_SIGNING_STEP');
    expect(thrown(() => s.recon.sign(assistantToken, v2.id)).code).toBe('PERSON_REQUIRED');
    s.recon.sign(assistant, v2.id);
    expect(thrown(() => s.recon.sign(lead, v2.id)).code).toBe('SELF_APPROVAL');
    expect(thrown(() => s.recon.sign(financeSupervisor, v2.id)).code).toBe('SIGNER_KEPT_RECORDS');
    const done = s.recon.sign(supervisor, v2.id);
    expect(done.signatures.map((x) => `${x.step} ${x.signedBy}`)).toEqual([
      'clerk lead.zhou',
      'assistant asst.sun',
      'supervisor sup.li',
    ]);
    expect(done.nextStep).toBe(null);
    expect(thrown(() => s.recon.sign(supervisor, v2.id)).code).toBe('WRONG_SIGNING_STEP');

    // Signed is final: SQL cannot change it, and a late payment in the half month changes nothing in it.
    expect(() => s.db.prepare("UPDATE recon_reports SET figures = '{}'").run()).toThrow(/append-only/);
    expect(() => s.db.prepare('DELETE FROM recon_signatures').run()).toThrow(/append-only/);
    expect(s.recon.verify(v2.id)).toEqual({ ok: true });
    s.recon.recordFinance(finance, { half: H, method: 'card', amountFen: -57, reference: 'POS-BATCH fee' });
    expect(s.recon.report(v2.id).figures).toEqual(v2.figures);
    expect(s.recon.report(v2.id).superseded).toBe(false);
    // The correction is a new version that names the new difference and needs its own signatures.
    const v3 = s.recon.prepare(clerk, { half: H, reason: 'card batch fee deducted by the bank' });
    expect(v3.figures.differences.map((d) => [d.key, d.differenceFen])).toEqual([
      ['method:card', 57],
      ['notice:2026-11-0002', 5757],
    ]);
    expect([v3.nextStep, s.recon.report(v2.id).superseded, s.recon.report(v2.id).nextStep]).toEqual([
      'clerk',
      true,
      null,
    ]);
    const trail = s.audit
      .query({ action: 'reconciliation.' })
      .filter((e) => e.subject === `reconciliation:${v2.id}`)
      .map((e) => `${e.actor} ${e.action}`);
    expect(trail).toEqual([
      'lead.zhou reconciliation.prepare',
      'lead.zhou reconciliation.explain',
      'lead.zhou reconciliation.sign-clerk',
      'asst.sun reconciliation.sign-assistant',
      'sup.li reconciliation.sign-supervisor',
    ]);
  });

  it('agrees to the fen with the takings folded by hand from the raw ledger rows', async () => {
    const s = await halfMonth();
    s.time.now = local(2027, 1, 2, 9);
    const report = s.recon.prepare(clerk, { half: '2026-12-H2' });
    // A different method: every row read raw, the half month's bounds written out as instants
    // (+08:00), the rules applied in a plain loop.
    const from = Date.parse('2026-12-16T00:00:00+08:00');
    const to = Date.parse('2027-01-01T00:00:00+08:00');
    const net: Record<string, number> = { cash: 0, card: 0, transfer: 0 };
    const ledger = s.db.prepare('SELECT * FROM prepaid_ledger').all() as {
      at: number;
      type: string;
      method: string | null;
      amount_fen: number;
      recorded_by: string;
    }[];
    for (const r of ledger) {
      if (r.at < from || r.at >= to || !r.method) continue;
      if (r.type === 'refund' || (r.type === 'topup' && !r.recorded_by.startsWith('payments:')))
        net[r.method]! += r.amount_fen;
    }
    const notices = new Map(
      (s.db.prepare('SELECT id, number FROM payment_notices').all() as { id: number; number: string }[]).map(
        (n) => [n.id, n.number],
      ),
    );
    const perNotice: Record<string, number> = {};
    for (const p of s.db.prepare('SELECT * FROM collection_payments').all() as {
      at: number;
      method: string;
      amount_fen: number;
      notice: number;
    }[]) {
      if (p.at < from || p.at >= to || p.method === 'credit') continue;
      net[p.method]! += p.amount_fen;
      perNotice[notices.get(p.notice)!] = (perNotice[notices.get(p.notice)!] ?? 0) + p.amount_fen;
    }
    const reversed = new Map(
      (
        s.db
          .prepare(
            `SELECT r.payment, d.decided_at FROM payment_reversals r
               JOIN payment_reversal_decisions d ON d.reversal = r.id WHERE d.outcome = 'approved'`,
          )
          .all() as { payment: number; decided_at: number }[]
      ).map((r) => [r.payment, r.decided_at]),
    );
    for (const p of s.db.prepare('SELECT * FROM collection_payments').all() as {
      id: number;
      method: string;
      amount_fen: number;
      notice: number;
    }[]) {
      const at = reversed.get(p.id);
      if (at === undefined || at < from || at >= to) continue;
      net[p.method]! -= p.amount_fen;
      perNotice[notices.get(p.notice)!]! -= p.amount_fen;
    }
    expect(report.figures.takings.net).toEqual(net);
    expect(report.figures.takings.totalFen).toBe(net.cash! + net.card! + net.transfer!);
    expect(report.figures.takings.perNotice).toEqual(perNotice);
    // Sanity: the fold saw the boundary rows and left them out.
    expect(net).toEqual({ cash: 23_500, card: 15_757, transfer: 329_627 });
  });

  it('finds a signed report edited behind the triggers’ back, against the digest its audit entry carries', async () => {
    const s = await halfMonth();
    s.time.now = local(2027, 1, 2, 9);
    const r = s.recon.prepare(clerk, { half: '2026-12-H2' });
    const audited = s.audit.query({ action: 'reconciliation.prepare' }).at(-1)!.after as { digest: string };
    expect(audited.digest).toBe(r.digest);
    // An insider with the sqlite3 shell: drops the trigger and lowers the cash takings by 100 fen.
    s.db.exec('DROP TRIGGER recon_reports_no_update');
    const figures = JSON.parse(
      (s.db.prepare('SELECT figures FROM recon_reports WHERE id = ?').get(r.id) as { figures: string })
        .figures,
    ) as { takings: { net: { cash: number } } };
    figures.takings.net.cash -= 100;
    s.db.prepare('UPDATE recon_reports SET figures = ? WHERE id = ?').run(JSON.stringify(figures), r.id);
    expect(s.recon.verify(r.id)).toEqual({ ok: false });
    // Nobody explains or signs it.
    expect(thrown(() => s.recon.sign(clerk, r.id)).code).toBe('REPORT_TAMPERED');
    expect(thrown(() => s.recon.explain(clerk, r.id, { key: 'method:cash', text: 'x' })).code).toBe(
      'REPORT_TAMPERED',
    );
  });

  it.each(Object.entries(RECONCILIATION_ERRORS))('%s has a status and a description', (_code, e) => {
    expect(e.status).toBeGreaterThanOrEqual(400);
    expect(e.description.length).toBeGreaterThan(10);
  });
});
