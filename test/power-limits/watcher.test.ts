import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { PowerLimitsSchema } from '../../config/schemas/power.ts';
import { CUSTOMER_TYPES } from '../../services/money/billing/tariffs.ts';
import { LIMIT_CUSTOMER_TYPES } from '../../config/schemas/power.ts';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import type { SignedRelayCommand } from '../../services/operations/control/commands.ts';
import { RelayControl } from '../../services/operations/control/relay-control.ts';
import { PolicyProposals } from '../../services/operations/schedules/proposals.ts';
import { PowerLimitWatcher } from '../../services/operations/power-limits/watcher.ts';
import { Trips } from '../../services/operations/power-limits/trips.ts';
import { testLogger } from '../helpers/logger.ts';
import { ackEverySent, gatewayKeys, testKeys } from '../control/support.ts';
import { clerk, lead, local, locate, operator, supervisor, TZ } from '../schedules/support.ts';

/**
 * Power limits on the real SQLite reading store and real relay control: over the limit for
 * `overFor` trips, the restore comes after the delay at most K times a local day, then people
 * restore; nothing at all before a supervisor approved the limits.
 */

const S = 1000;
const MIN = 60 * S;
const CONFIG = PowerLimitsSchema.parse({
  byCustomerType: {
    'student-room': { kw: 1.5, overFor: '30s', restoreAfter: '5m', maxAutoRestoresPerDay: 3 },
  },
  meters: { 'E-A-201': { kw: 3 } },
  illegalLoad: { restoreAfter: '10m', maxAutoRestoresPerDay: 1 },
});
const RELAY_METERS = ['E-A-101', 'E-A-201', 'E-HH-1'];
const TYPES: Record<string, string> = {
  'E-A-101': 'student-room',
  'E-A-201': 'student-room',
  'E-HH-1': 'staff-household',
};

let stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores) await s.close();
  stores = [];
});

function fixture() {
  const now = { t: local(2026, 9, 14, 9) };
  const clock = () => now.t;
  const db = openBackofficeDb(':memory:');
  const audit = new AuditLog(db, clock);
  const sent: SignedRelayCommand[] = [];
  const control = new RelayControl({
    ...{ db, audit, clock, locate },
    signingKey: testKeys().privateKey,
    ackKeys: (_s, gw) => (gw === 'gw1' ? gatewayKeys.gw1.publicKey : undefined),
    send: async (c) => {
      sent.push(c);
    },
  });
  const store = SqliteStore.open({ path: ':memory:' });
  stores.push(store);
  const proposals = new PolicyProposals(db, audit, control, clock);
  const make = () =>
    new PowerLimitWatcher({
      ...{ config: CONFIG, control, proposals, store, clock, timezone: TZ, logger: testLogger() },
      trips: new Trips(db, audit, clock),
      relayMeters: RELAY_METERS,
      customerTypeOf: (m) => TYPES[m],
    });
  const watcher = make();
  let seq = 0;
  /** The meter's reading at `now` (its poll). */
  const read = (meter: string, kw: number) =>
    store.writeReadings([
      {
        meter,
        ts: now.t,
        seq: ++seq,
        quality: 'good',
        values: { power_kw: kw },
        site: 'east',
        gateway: 'gw1',
        kind: 'electricity',
      },
    ]);
  const ack = () => ackEverySent(control, sent);
  const tick = async (w = watcher) => {
    const out = await w.tick();
    ack();
    return out;
  };
  const approve = () => {
    const v = watcher.version();
    proposals.approve(supervisor, proposals.propose(clerk, v, 'dorm limits per the rules').id, v);
  };
  const actions = (meter: string) => sent.filter((c) => c.meter === meter).map((c) => c.action);
  return { now, db, audit, control, sent, proposals, watcher, make, read, tick, approve, actions, ack };
}

/** Keeps the room over its limit long enough to trip (two polls 30 s apart). */
async function overload(f: ReturnType<typeof fixture>, meter = 'E-A-101', kw = 2.2) {
  await f.read(meter, kw);
  await f.tick();
  f.now.t += 30 * S;
  await f.read(meter, kw);
  return f.tick();
}

describe('power limits', () => {
  it('trip nothing until a supervisor other than the proposer approves the limits', async () => {
    const f = fixture();
    await overload(f);
    f.now.t += 10 * MIN;
    await f.read('E-A-101', 2.2);
    expect((await f.tick()).status).toBe('not-approved');
    const v = f.watcher.version();
    const p = f.proposals.propose(lead, v, 'limits');
    expect(() => f.proposals.approve(lead, p.id, v)).toThrow(
      expect.objectContaining({ code: 'SELF_APPROVAL' }),
    );
    expect(f.sent).toEqual([]);
    expect(f.control.list()).toEqual([]);
  });

  it('trips after the limit is exceeded for overFor without a reading under it, and names the evidence', async () => {
    const f = fixture();
    f.approve();
    // Over, under, over: the run starts again.
    await f.read('E-A-101', 2.0);
    await f.tick();
    f.now.t += 20 * S;
    await f.read('E-A-101', 1.2);
    await f.tick();
    f.now.t += 20 * S;
    await f.read('E-A-101', 2.0);
    expect((await f.tick()).tripped).toEqual([]);
    f.now.t += 20 * S;
    await f.read('E-A-101', 2.0);
    expect((await f.tick()).tripped).toEqual([]);
    f.now.t += 10 * S;
    await f.read('E-A-101', 2.0);
    // E-A-201 draws 2.2 kW too, under its own 3 kW limit; the household has no limit.
    await f.read('E-A-201', 2.2);
    await f.read('E-HH-1', 9);
    expect((await f.tick()).tripped).toEqual(['E-A-101']);
    expect(f.actions('E-A-101')).toEqual(['open']);
    expect(f.sent).toHaveLength(1);
    const [req] = f.control.list({ meter: 'E-A-101' });
    expect(req).toMatchObject({ hold: 'power-limit', requestedBy: 'system:power-limits', state: 'done' });
    const [trip] = f.audit.query({ action: 'power-limit.trip' });
    expect(trip!.after).toMatchObject({ evidence: { kw: 2, limitKw: 1.5, overForMs: 30 * S } });
  });

  it('a trip storm stops restoring automatically after K a day; then two people restore; the next day counts anew', async () => {
    const f = fixture();
    f.approve();
    for (let i = 1; i <= 3; i++) {
      expect((await overload(f)).tripped).toEqual(['E-A-101']);
      f.now.t += 4 * MIN;
      expect((await f.tick()).restored).toEqual([]);
      f.now.t += 1 * MIN;
      expect((await f.tick()).restored).toEqual(['E-A-101']);
    }
    expect(f.actions('E-A-101')).toEqual(['open', 'close', 'open', 'close', 'open', 'close']);
    // The fourth trip of the day stays open, said once.
    expect((await overload(f)).tripped).toEqual(['E-A-101']);
    f.now.t += 5 * MIN;
    expect((await f.tick()).manual).toEqual(['E-A-101']);
    f.now.t += 30 * MIN;
    await f.tick();
    expect(f.actions('E-A-101')).toHaveLength(7);
    expect(f.audit.query({ action: 'power-limit.manual-restore-needed' })).toHaveLength(1);
    expect(f.control.holds('E-A-101').map((h) => h.hold)).toEqual(['power-limit']);
    // A restart does not give the storm its count back.
    await f.tick(f.make());
    expect(f.actions('E-A-101')).toHaveLength(7);

    // People restore it: the operator asks, the supervisor approves.
    const req = f.control.request({
      meter: 'E-A-101',
      action: 'close',
      reason: 'heater removed',
      requestedBy: operator,
    });
    await f.control.approve(supervisor, req.id);
    f.ack();
    expect(f.actions('E-A-101').at(-1)).toBe('close');
    expect(f.control.holds('E-A-101')).toEqual([]);
    await f.tick();
    expect(f.audit.query({ action: 'power-limit.closed' }).map((e) => e.before)).toEqual([
      { trip: 4, state: 'manual' },
    ]);

    // The next day, automatic restores again.
    f.now.t = local(2026, 9, 15, 9);
    await overload(f);
    f.now.t += 5 * MIN;
    expect((await f.tick()).restored).toEqual(['E-A-101']);
  });

  it('an automatic restore does not close a relay another reason holds open', async () => {
    const f = fixture();
    f.approve();
    f.control.grantPolicyApproval(supervisor, { scope: { actions: ['open', 'close'] }, reason: 'prepaid' });
    await overload(f);
    f.now.t += MIN;
    await f.control.requestFromPolicy({
      meter: 'E-A-101',
      action: 'open',
      reason: 'balance -5 fen',
      hold: 'credit',
    });
    f.ack();
    f.now.t += 4 * MIN;
    expect((await f.tick()).restored).toEqual(['E-A-101']);
    expect(f.actions('E-A-101')).toEqual(['open', 'open']);
    expect(f.control.list({ meter: 'E-A-101' }).at(-1)).toMatchObject({ action: 'close', state: 'held' });
    expect(f.control.holds('E-A-101').map((h) => h.hold)).toEqual(['credit']);
  });

  it('a crash between the trip request and its record still restores the room after the delay', async () => {
    const f = fixture();
    f.approve();
    // What the watcher asks for, as if the process died before it recorded the trip.
    await f.control.requestFromPolicy({
      meter: 'E-A-101',
      action: 'open',
      hold: 'power-limit',
      by: 'system:power-limits',
      basis: `power-limits@${f.proposals.list()[0]!.sha256}`,
      requireGrant: true,
      reason: 'power 2.2 kW over the limit',
    });
    f.ack();
    const restarted = f.make();
    await f.tick(restarted);
    expect(f.audit.query({ action: 'power-limit.trip' })).toHaveLength(1);
    f.now.t += 4 * MIN;
    expect((await f.tick(restarted)).restored).toEqual([]);
    f.now.t += MIN;
    expect((await f.tick(restarted)).restored).toEqual(['E-A-101']);
    expect(f.actions('E-A-101')).toEqual(['open', 'close']);
    // Once recorded, it is not adopted again.
    await f.tick(f.make());
    expect(f.audit.query({ action: 'power-limit.trip' })).toHaveLength(1);
  });

  it('trips an illegal load the same way, by the illegal-load rule', async () => {
    const f = fixture();
    expect(await f.watcher.tripIllegalLoad('E-A-201', { deltaPKw: 1.1, pf: 0.99 })).toBeNull();
    f.approve();
    const trip = await f.watcher.tripIllegalLoad('E-A-201', { deltaPKw: 1.1, pf: 0.99 });
    f.ack();
    expect(trip).toMatchObject({ cause: 'illegal-load', restoreDue: f.now.t + 10 * MIN });
    expect(await f.watcher.tripIllegalLoad('E-A-201', { deltaPKw: 1.2 })).toBeNull(); // already tripped
    f.now.t += 10 * MIN;
    expect((await f.tick()).restored).toEqual(['E-A-201']);
    await f.watcher.tripIllegalLoad('E-A-201', { deltaPKw: 1.1 });
    f.ack();
    f.now.t += 10 * MIN;
    expect((await f.tick()).manual).toEqual(['E-A-201']); // one automatic restore a day
    expect(f.actions('E-A-201')).toEqual(['open', 'close', 'open']);
  });

  it('a limits edit after approval voids it: nothing trips until the new limits are approved', async () => {
    const f = fixture();
    f.approve();
    const edited = new PowerLimitWatcher({
      ...{
        control: f.control,
        proposals: f.proposals,
        clock: () => f.now.t,
        timezone: TZ,
        logger: testLogger(),
      },
      config: PowerLimitsSchema.parse({ byCustomerType: { 'student-room': { kw: 1.0 } } }),
      store: stores[0]!,
      trips: new Trips(f.db, f.audit, () => f.now.t),
      relayMeters: RELAY_METERS,
      customerTypeOf: (m) => TYPES[m],
    });
    await f.read('E-A-101', 2);
    await f.tick(edited);
    f.now.t += 30 * S;
    await f.read('E-A-101', 2);
    expect(await f.tick(edited)).toMatchObject({ status: 'not-approved', tripped: [] });
    expect(f.sent).toEqual([]);
    expect(f.audit.query({ action: 'relay.policy-approval.void' })).toHaveLength(1);
  });
});

describe('the powerLimits section', () => {
  it('names what is wrong', () => {
    const r = PowerLimitsSchema.safeParse({
      byCustomerType: { 'student-room': { kw: -1 }, dorm: { kw: 1 } },
      illegalLoad: { restoreAfter: '5 minutes' },
    });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['byCustomerType.student-room.kw', 'Too small: expected number to be >0'],
      ['byCustomerType', 'Unrecognized key: "dorm"'],
      ['illegalLoad.restoreAfter', 'a duration like 30s, 5m or 1h'],
    ]);
  });

  it('knows the same customer types as the tariffs', () => {
    expect([...LIMIT_CUSTOMER_TYPES]).toEqual([...CUSTOMER_TYPES]);
  });
});
