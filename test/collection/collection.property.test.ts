import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import { clerk, clerk2, confirmed, lead, snapshot, supervisor } from './support.ts';

/**
 * Random sequences of what the office does with the fixture's three notices — payments of any
 * size (overpayments too), reminders, waivers asked and decided, reversals asked and decided, time
 * passing — by people who sometimes try to approve their own requests. After every step: a refused
 * step changed nothing; each payment's parts add up to it; no notice owes less than nothing; each
 * account's credit is the sum of its rows and never negative; and every notice's penalty equals a
 * recomputation by a different method — whole days counted on the UTC+8 calendar (Shanghai keeps
 * no summer time) over the raw payment rows, rounded half up with integer arithmetic.
 */

const DAY = 86_400_000;
const OFFSET = 8 * 3_600_000;
const NOTICES = ['2026-11-0001', '2026-11-0002', '2026-11-0003'] as const;
const ACCOUNTS: Record<string, string> = {
  '2026-11-0001': 'B-CAFE',
  '2026-11-0002': 'S-E1-101',
  '2026-11-0003': 'V-LAUNDRY',
};
const people: Actor[] = [clerk, clerk2, lead, supervisor];

const op = fc.oneof(
  fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 25 * DAY }) }),
  fc.record({
    kind: fc.constant('pay' as const),
    notice: fc.constantFrom(...NOTICES),
    fen: fc.oneof(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 400_000 })),
    by: fc.constantFrom(...people),
  }),
  fc.record({ kind: fc.constant('remind' as const), notice: fc.constantFrom(...NOTICES) }),
  fc.record({
    kind: fc.constant('waive' as const),
    notice: fc.constantFrom(...NOTICES),
    share: fc.integer({ min: 1, max: 120 }),
    by: fc.constantFrom(...people),
    approver: fc.constantFrom(...people),
  }),
  fc.record({
    kind: fc.constant('reverse' as const),
    notice: fc.constantFrom(...NOTICES),
    by: fc.constantFrom(...people),
    approver: fc.constantFrom(...people),
  }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

type S = Awaited<ReturnType<typeof confirmed>>;
let receipt = 0;

function run(s: S, o: Op): void {
  const c = s.collection;
  switch (o.kind) {
    case 'wait':
      s.time.now += o.ms;
      return;
    case 'pay':
      c.pay(o.by, {
        ...{ notice: o.notice, account: ACCOUNTS[o.notice], period: '2026-11' },
        ...{ method: 'cash', amountFen: o.fen, reference: `P-${++receipt}` },
      });
      return;
    case 'remind':
      c.remind(clerk, { notice: o.notice, channel: 'door' });
      return;
    case 'waive': {
      const due = c.notice(o.notice).penaltyDueFen;
      const w = c.requestWaiver(o.by, {
        notice: o.notice,
        amountFen: Math.ceil((due * o.share) / 100),
        reason: 'r',
      });
      c.decideWaiver(o.approver, w.id, { approve: true });
      return;
    }
    case 'reverse': {
      const last = c.notice(o.notice).payments.at(-1);
      if (!last) return;
      const r = c.requestReversal(o.by, last.id, { reason: 'r' });
      c.decideReversal(o.approver, r.id, { approve: true });
      return;
    }
  }
}

/** The penalty of a notice as of `asOf`, from raw rows, on the UTC+8 day grid (default rule). */
function penaltyByHand(s: S, number: string, asOf: number): number {
  const n = s.db.prepare('SELECT * FROM payment_notices WHERE number = ?').get(number) as {
    id: number;
    fee_fen: number;
    due_at: number;
  };
  const dayOf = (ts: number) => Math.floor((ts + OFFSET) / DAY);
  const midnight = (d: number) => d * DAY - OFFSET;
  const reminders = s.db
    .prepare('SELECT at FROM collection_reminders WHERE notice = ? AND at <= ? ORDER BY at')
    .pluck()
    .all(n.id, asOf) as number[];
  if (reminders.length === 0) return 0;
  const reversedBy = new Map(
    (
      s.db
        .prepare(
          `SELECT r.payment, d.decided_at FROM payment_reversals r JOIN payment_reversal_decisions d
             ON d.reversal = r.id WHERE d.outcome = 'approved'`,
        )
        .all() as { payment: number; decided_at: number }[]
    ).map((r) => [r.payment, r.decided_at]),
  );
  const paid = (
    s.db.prepare('SELECT id, at, principal_fen FROM collection_payments WHERE notice = ?').all(n.id) as {
      id: number;
      at: number;
      principal_fen: number;
    }[]
  ).filter((p) => p.at <= asOf && !((reversedBy.get(p.id) ?? Infinity) <= asOf));
  const first = Math.max(dayOf(n.due_at) + 15, dayOf(reminders[0]!) + 1);
  let total = 0n;
  for (let d = first; midnight(d) <= asOf; d++) {
    const unpaid =
      n.fee_fen - paid.filter((p) => p.at < midnight(d)).reduce((a, p) => a + p.principal_fen, 0);
    if (unpaid <= 0) break;
    total += BigInt(unpaid) * 5n;
  }
  const fen = Number((2n * total + 10_000n) / 20_000n);
  return Math.min(fen, n.fee_fen);
}

describe('collection properties', () => {
  it('payments add up, nothing owed below zero, credit kept, penalties agree with a recomputation', async () => {
    const seen = { ok: new Set<string>(), refused: new Set<string>() };
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
        const s = await confirmed();
        s.time.now += 45 * DAY; // 24 January: overdue, within the grace days
        for (const o of ops) {
          s.time.now += 3_600_000;
          const before = snapshot(s.db);
          try {
            run(s, o);
            seen.ok.add(o.kind);
          } catch (e) {
            if (!(e instanceof ServiceError)) throw e;
            seen.refused.add(e.code);
            // A waiver or reversal asked for and then refused keeps its request; the rest is unchanged.
            if (o.kind !== 'waive' && o.kind !== 'reverse') expect(snapshot(s.db)).toEqual(before);
          }
          const sums = s.db
            .prepare(
              `SELECT COUNT(*) AS n FROM collection_payments
                WHERE amount_fen <> principal_fen + penalty_fen + credit_fen`,
            )
            .get() as { n: number };
          expect(sums.n).toBe(0);
          for (const number of NOTICES) {
            const st = s.collection.notice(number);
            expect(st.principalDueFen).toBeGreaterThanOrEqual(0);
            expect(st.penaltyDueFen).toBeGreaterThanOrEqual(0);
            expect(st.penaltyPaidFen + st.penaltyWaivedFen).toBeLessThanOrEqual(st.penaltyAccruedFen);
            expect(st.penaltyAccruedFen).toBe(penaltyByHand(s, number, s.time.now));
          }
          for (const account of Object.values(ACCOUNTS)) {
            const rows = s.db
              .prepare('SELECT COALESCE(SUM(amount_fen), 0) AS fen FROM collection_credits WHERE account = ?')
              .get(account) as { fen: number };
            expect(s.collection.creditBalance(account)).toBe(rows.fen);
            expect(rows.fen).toBeGreaterThanOrEqual(0);
          }
        }
        expect(s.audit.verify().ok).toBe(true);
      }),
      { numRuns: 60, seed: 14 },
    );
    // The runs reached every kind of step and the refusals that guard them.
    expect([...seen.ok].sort()).toEqual(['pay', 'remind', 'reverse', 'wait', 'waive']);
    for (const code of ['SELF_APPROVAL', 'WAIVER_EXCEEDS_PENALTY', 'NOT_OVERDUE'])
      expect(seen.refused, code).toContain(code);
  }, 120_000);
});
