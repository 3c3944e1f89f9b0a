import { describe, expect, it } from 'vitest';
import { insiderAdmins } from '../helpers/insider.ts';
import { confirmed, expectRefused, local } from '../collection/support.ts';

/**
 * The 30-day hole: an insider administrator has a clerk and a supervisor made on their proposal
 * (a gullible second administrator approves; the one-time codes reach the insider), sets both
 * passwords with the codes, waits 31 days — past DEFAULT_LINK_DAYS — and performs a payment
 * reversal alone: their clerk asks, their supervisor approves. The insider still knows both
 * passwords, so the accounts are still theirs: refused as linked accounts, nothing changed. Once
 * each holder has set a password of their own (change-password, giving the current one), the two
 * are independent people and the same act passes.
 */

const DAY = 86_400_000;

async function world() {
  const s = await confirmed();
  const made = local(2026, 12, 1, 9);
  s.time.now = made;
  const { users, make } = await insiderAdmins(s);
  const malClerk = await make('mal.clerk', ['clerk']);
  const malSup = await make('mal.sup', ['supervisor']);
  s.time.now = made + 31 * DAY;
  const reversal = () => {
    const paid = s.collection.pay(malClerk, {
      ...{ notice: '2026-11-0003', account: 'V-LAUNDRY', period: '2026-11' },
      ...{ method: 'cash', amountFen: 2_000, reference: 'MAL-1' },
    }).payment;
    return s.collection.requestReversal(malClerk, paid.id, { reason: 'typed wrong' });
  };
  return { s, users, malClerk, malSup, reversal };
}

describe('account links last while the administrator can still act as the account', () => {
  it('31 days after making both accounts, the insider alone cannot reverse a payment', async () => {
    const { s, malSup, reversal } = await world();
    const r = reversal();
    expectRefused(s.db, 'LINKED_ACCOUNTS', () =>
      s.collection.decideReversal(malSup, r.id, { approve: true }),
    );
    const decided = s.db.prepare('SELECT count(*) FROM payment_reversal_decisions WHERE reversal = ?');
    expect(decided.pluck().get(r.id)).toBe(0);
  });

  it('a code redeemed is not a password of the holder’s own; a change with the current password is', async () => {
    const { s, users, malClerk, malSup, reversal } = await world();
    const r = reversal();
    await users.changePassword(malClerk, 'mal.clerk insider pw', 'clerk own secret pw', { ip: '10.0.0.2' });
    await users.changePassword(malSup, 'mal.sup insider pw', 'supervisor own secret', { ip: '10.0.0.3' });
    expect(s.collection.decideReversal(malSup, r.id, { approve: true }).status).toBe('approved');
  });
});
