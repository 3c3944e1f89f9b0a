import { describe, expect, it } from 'vitest';
import { createHeating } from '../../services/backoffice/parts/heating.ts';
import { insiderAdmins } from '../helpers/insider.ts';
import { auditAndRows, expectRefusedUnchanged } from '../helpers/refused.ts';
import { heatingFixture, user, type HeatingFixture } from '../heating/support.ts';

/**
 * The attack on electric heating registration (it silences detection's electric-heating alerts
 * for the unit): one insider hides a friend's illegal heater alone. An administrator holding every
 * role they can reach — a desk clerk and a supervisor of their own making (a gullible second
 * administrator approves; the one-time codes reach the insider), and no supervisor role of their
 * own (an administrator may not approve operations) — proposes with one account and approves with
 * the other: refused as linked accounts, nothing changed, the unit still judged. A desk clerk who
 * is also a supervisor cannot approve their own proposal. An independent supervisor can (control).
 */

const UNIT = 'E-E-H02';
const friend = { meter: UNIT, applicant: 'Household E-H02', reason: 'electric-heating tariff' };

async function insider(f: HeatingFixture) {
  const { users, insider: admin, make } = await insiderAdmins(f);
  return {
    users,
    admin,
    malDesk: await make('mal.desk', ['heating-desk']),
    malSup: await make('mal.sup', ['supervisor']),
  };
}

describe('one insider against electric heating registration', () => {
  it('an administrator with a desk clerk and a supervisor of their making cannot register and approve alone', async () => {
    const f = heatingFixture();
    const h = createHeating({ campus: f.campus, db: f.db, audit: f.audit, clock: f.clock, store: f.store });
    const { users, admin, malDesk, malSup } = await insider(f);
    // The administrator cannot take the supervisor's role, nor approve as themselves.
    await expect(async () => users.setRoles(admin, 'insider', ['admin', 'supervisor'])).rejects.toMatchObject(
      {
        code: expect.stringMatching(/INCOMPATIBLE_DUTIES|SELF_ROLE_CHANGE/),
      },
    );
    const p = h.electric.register(malDesk, friend);
    // Proposed: nothing silenced yet (before the fix, this record was in force at once).
    expect(h.electric.registrations()).toEqual([]);
    const rows = auditAndRows(f.db, 'heating_electric');
    expectRefusedUnchanged(rows, 'FORBIDDEN', () => h.electric.approve(admin, p.id));
    expectRefusedUnchanged(rows, 'LINKED_ACCOUNTS', () => h.electric.approve(malSup, p.id));
    // A month and more later, the same: the insider still knows both passwords.
    f.time.now += 45 * 86_400_000;
    expectRefusedUnchanged(rows, 'LINKED_ACCOUNTS', () => h.electric.approve(malSup, p.id));
    expect(h.electric.registrations()).toEqual([]);
    // The control: a supervisor independent of the clerk approves.
    expect(h.electric.approve(user('sup.li', 'supervisor'), p.id).state).toBe('approved');
    expect(h.electric.registrations().map((r) => r.meter)).toEqual([UNIT]);
  });

  it('a desk clerk who is also a supervisor cannot approve their own proposal', () => {
    const f = heatingFixture();
    const h = createHeating({ campus: f.campus, db: f.db, audit: f.audit, clock: f.clock, store: f.store });
    const lead = user('lead.fan', 'heating-desk', 'supervisor');
    const p = h.electric.register(lead, friend);
    expectRefusedUnchanged(auditAndRows(f.db, 'heating_electric'), 'SELF_APPROVAL', () =>
      h.electric.approve(lead, p.id),
    );
    expect(h.electric.registrations()).toEqual([]);
  });
});
