import { describe, expect, it } from 'vitest';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { insiderAdmins } from '../helpers/insider.ts';
import { billing, clerk, confirmed, expectRefused, local, setup, supervisor } from '../collection/support.ts';

/**
 * The attack on the newest two-person money acts (post-paid collection: a payment reversed, a
 * penalty waived, an objection to a fee decided) by one insider administrator who holds every
 * role they can reach: a clerk and a supervisor of their own making, created on their proposal and
 * approved by a gullible second administrator (the one-time codes reach the insider). Each act is
 * asked by the insider's clerk and approved by the insider's supervisor: refused as linked
 * accounts, nothing changed; an independent supervisor still completes it (the control). The
 * links last DEFAULT_LINK_DAYS (30) from the accounts' making: the acts here fall within them.
 */

type World = Awaited<ReturnType<typeof setup>>;

/** A clerk and a supervisor the insider made now (test/helpers/insider.ts). */
async function insiderStaff(s: World): Promise<{ malClerk: Actor; malSup: Actor }> {
  const { make } = await insiderAdmins(s);
  return { malClerk: await make('mal.clerk', ['clerk']), malSup: await make('mal.sup', ['supervisor']) };
}

/** A confirmed fee table's world; the insider's staff are made at `at` (links last DEFAULT_LINK_DAYS). */
async function insiderWorld(at: number, before: (s: World) => void = () => undefined) {
  const s = await confirmed();
  before(s);
  s.time.now = at;
  return { s, ...(await insiderStaff(s)) };
}

describe('one insider against the collection’s two-person acts', () => {
  it('a payment reversal: their clerk records and asks, their supervisor approves: refused', async () => {
    const { s, malClerk, malSup } = await insiderWorld(local(2026, 12, 20, 10));
    const paid = s.collection.pay(malClerk, {
      ...{ notice: '2026-11-0003', account: 'V-LAUNDRY', period: '2026-11' },
      ...{ method: 'cash', amountFen: 2_000, reference: 'MAL-1' },
    }).payment;
    const r = s.collection.requestReversal(malClerk, paid.id, { reason: 'typed wrong' });
    expectRefused(s.db, 'LINKED_ACCOUNTS', () =>
      s.collection.decideReversal(malSup, r.id, { approve: true }),
    );
    expect(s.collection.decideReversal(supervisor, r.id, { approve: true }).status).toBe('approved');
  });

  it('a penalty waiver: their clerk asks, their supervisor approves: refused', async () => {
    const n = '2026-11-0001';
    // The notice falls overdue (an honest clerk's reminder), then the insider makes their staff.
    const { s, malClerk, malSup } = await insiderWorld(local(2027, 2, 3, 12), (s) => {
      s.time.now = local(2027, 1, 12, 10);
      s.collection.remind(clerk, { notice: n, channel: 'phone' });
    });
    const w = s.collection.requestWaiver(malClerk, { notice: n, amountFen: 1000, reason: 'a favour' });
    expectRefused(s.db, 'LINKED_ACCOUNTS', () => s.collection.decideWaiver(malSup, w.id, { approve: true }));
    expect(s.collection.decideWaiver(supervisor, w.id, { approve: true, reason: 'checked' }).status).toBe(
      'approved',
    );
  });

  it('an objection to a fee: their clerk records it, their supervisor upholds it with a credit: refused', async () => {
    const s = await setup();
    const t = s.collection.publish(billing, { run: s.run.id });
    const { malClerk, malSup } = await insiderStaff(s);
    const o = s.collection.object(malClerk, { feeTable: t.id, account: 'V-LAUNDRY', text: 'read twice' });
    const credit = { outcome: 'upheld', amountFen: 20_000, reason: 'a favour' };
    expectRefused(s.db, 'LINKED_ACCOUNTS', () => s.collection.decideObjection(malSup, o.id, credit));
    expect(
      s.collection.decideObjection(supervisor, o.id, { outcome: 'dismissed', reason: 'reads agree' }),
    ).toMatchObject({ decision: expect.objectContaining({ outcome: 'dismissed' }) });
  });
});
