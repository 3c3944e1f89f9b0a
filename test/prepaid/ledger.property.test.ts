import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import {
  clerk,
  clerk2,
  lead,
  local,
  metering,
  openVerified,
  operator,
  reader,
  setup,
  snapshot,
  supervisor,
  supervisor2,
} from './support.ts';

/**
 * Random sequences of everything the business office does to two accounts, including refused
 * operations and debits run again. After every step: the balance is the sum of the ledger, a whole
 * number of fen; a refused step changed nothing. At the end: each person's handover totals are the
 * sum of their entries, every ledger entry has its audit entry, and the audit chain verifies.
 */

const ACCOUNTS = ['A', 'H'] as const; // a student room and a staff household (tiered)
const people: Actor[] = [clerk, clerk2, lead, supervisor, supervisor2, operator, reader];
// The lead (clerk and supervisor) often, so that self-approvals are tried.
const person = fc.constantFrom(...people, lead, lead, lead);
const account = fc.constantFrom(...ACCOUNTS);
// Mostly valid amounts, sometimes not: refusals must change nothing.
const amount = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 20_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -5, 1.5, Number.NaN, 1e20) },
);

const op = fc.oneof(
  fc.record({
    kind: fc.constant('topup' as const),
    by: person,
    account,
    amount,
    method: fc.constantFrom('cash' as const, 'card' as const, 'transfer' as const),
    ref: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({
    kind: fc.constant('debit' as const),
    account,
    day: fc.integer({ min: 1, max: 8 }),
    kwh: fc.oneof(fc.double({ min: 0, max: 40, noNaN: true }), fc.constant(null)),
  }),
  fc.record({
    kind: fc.constant('refund' as const),
    by: person,
    account,
    amount,
    method: fc.constantFrom('cash' as const, 'transfer' as const),
  }),
  fc.record({ kind: fc.constant('approve-refund' as const), by: person, pick: fc.nat() }),
  fc.record({
    kind: fc.constant('credit-quota' as const),
    by: person,
    account,
    period: fc.constantFrom('2024-08', '2024-09'),
    kwh: fc.integer({ min: 0, max: 30_000 }).map((w) => w / 1000),
  }),
  fc.record({
    kind: fc.constant('confirm-quota' as const),
    by: person,
    pick: fc.nat(),
    reject: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('correct' as const), by: person, account, amount, negative: fc.boolean() }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

function run(s: ReturnType<typeof setup>, o: Op): void {
  const p = s.prepaid;
  switch (o.kind) {
    case 'topup':
      p.topUp(o.by, { account: o.account, amountFen: o.amount, method: o.method, reference: `R${o.ref}` });
      return;
    case 'debit':
      p.applyConsumption(metering, o.account, [
        {
          meter: `m-${o.account}`,
          start: local(2024, 9, o.day),
          end: local(2024, 9, o.day + 1),
          value: o.kwh,
          status: o.kwh === null ? 'gap' : 'ok',
        },
      ]);
      return;
    case 'refund':
      p.requestRefund(o.by, {
        account: o.account,
        amountFen: o.amount,
        method: o.method,
        reason: 'moving out',
      });
      return;
    case 'approve-refund': {
      const pending = p.pendingRequests('refund');
      if (pending.length > 0) p.approveRefund(o.by, pending[o.pick % pending.length]!.id);
      return;
    }
    case 'credit-quota':
      p.creditFreeQuota(o.by, { account: o.account, period: o.period, kwh: o.kwh });
      return;
    case 'confirm-quota': {
      const pending = p.pendingRequests('free-quota');
      if (pending.length === 0) return;
      const id = pending[o.pick % pending.length]!.id;
      if (o.reject) p.rejectFreeQuota(o.by, id);
      else p.confirmFreeQuota(o.by, id);
      return;
    }
    case 'correct':
      p.correct(o.by, {
        account: o.account,
        amountFen: o.negative ? -o.amount : o.amount,
        reason: 'property test',
      });
      return;
  }
}

describe('ledger properties', () => {
  it('balance = sum of the ledger, refusals change nothing, handover totals agree', () => {
    // Which kinds of step succeeded and were refused over all runs: both must be exercised.
    const seen = { ok: new Set<string>(), refused: new Set<string>() };
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40, size: 'max' }), (ops) => {
        const s = setup();
        openVerified(s.prepaid, 'A', 'student-room');
        openVerified(s.prepaid, 'H', 'staff-household');
        let applied = 0;
        for (const o of ops) {
          s.time.now += 60_000;
          const before = { ...snapshot(s), a: s.prepaid.balance('A'), h: s.prepaid.balance('H') };
          try {
            run(s, o);
            applied++;
            seen.ok.add(o.kind);
          } catch (e) {
            if (!(e instanceof ServiceError)) throw e;
            seen.refused.add(e.code);
            expect({ ...snapshot(s), a: s.prepaid.balance('A'), h: s.prepaid.balance('H') }).toEqual(before);
          }
          for (const id of ACCOUNTS) {
            const balance = s.prepaid.balance(id);
            const entries = s.prepaid.ledger(id);
            expect(Number.isSafeInteger(balance)).toBe(true);
            for (const e of entries) expect(Number.isSafeInteger(e.amountFen)).toBe(true);
            expect(balance).toBe(entries.reduce((sum, e) => sum + e.amountFen, 0));
            // Re-run debits never debit a day twice.
            const days = entries.filter((e) => e.type === 'debit').map((e) => e.intervalStart);
            expect(new Set(days).size).toBe(days.length);
            // Refunds never took more than there was.
            expect(s.prepaid.refundable(id)).toBeGreaterThanOrEqual(0);
          }
        }

        const all = ACCOUNTS.flatMap((id) => s.prepaid.ledger(id));
        const recorders = new Set([...all.map((e) => e.recordedBy), ...people.map((p) => p.id)]);
        for (const who of recorders) {
          const mine = all.filter((e) => e.recordedBy === who);
          const r = s.prepaid.handoverReport(supervisor, { clerk: who, from: 0, to: s.time.now + 1 });
          expect(r.entries.map((e) => e.id).sort()).toEqual(mine.map((e) => e.id).sort());
          expect(r.netFen).toBe(mine.reduce((sum, e) => sum + e.amountFen, 0));
          for (const [method, t] of Object.entries(r.byMethod)) {
            const m = mine.filter((e) => e.method === method);
            expect(t).toEqual({ count: m.length, fen: m.reduce((sum, e) => sum + e.amountFen, 0) });
          }
          for (const [type, t] of Object.entries(r.byType)) {
            const m = mine.filter((e) => e.type === type);
            expect(t).toEqual({ count: m.length, fen: m.reduce((sum, e) => sum + e.amountFen, 0) });
          }
        }
        expect(s.audit.query({ action: 'ledger.', limit: 10_000 })).toHaveLength(all.length);
        expect(s.audit.verify().ok).toBe(true);
        return applied >= 0;
      }),
      { numRuns: 150 },
    );
    expect([...seen.ok].sort()).toEqual(
      ['approve-refund', 'confirm-quota', 'correct', 'credit-quota', 'debit', 'refund', 'topup'].sort(),
    );
    for (const code of [
      'FORBIDDEN',
      'INVALID_AMOUNT',
      'SELF_APPROVAL',
      'INSUFFICIENT_BALANCE',
      'DUPLICATE_REFERENCE',
    ])
      expect(seen.refused).toContain(code);
  });
});
