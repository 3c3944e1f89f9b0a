import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { createPolicyLoop, type PolicyLoop } from '../../services/backoffice/policy-loop.ts';
import { creditVeto } from '../../services/backoffice/parts/dorm-power.ts';
import { commandAckTopic, type SignedRelayCommand } from '../../services/operations/control/commands.ts';
import { RelayControl } from '../../services/operations/control/relay-control.ts';
import { PolicyProposals } from '../../services/operations/schedules/proposals.ts';
import { ScheduleRunner } from '../../services/operations/schedules/runner.ts';
import { Prepaid } from '../../services/money/prepaid/prepaid.ts';
import type { ReadingStore } from '../../services/metering/storage.ts';
import { testLogger } from '../helpers/logger.ts';
import { ackEverySent, gatewayKeys, signedAck, testKeys } from '../control/support.ts';
import { tariffs } from '../prepaid/support.ts';
import { clerk, dormSchedule, local, locate, METERS, supervisor, TZ } from './support.ts';

/**
 * The prepaid policy and a lights-out schedule on the same room, with the real prepaid accounts
 * and the back office's credit veto: the room that ran out of credit at night stays off in the
 * morning, and comes back once, after the top-up, when neither reason is left.
 */

const HOUR = 3_600_000;

/** Every meter draws a steady 0.5 kW, read hourly. */
const store: ReadingStore = {
  async writeReadings() {},
  async latest() {
    return [];
  },
  async series(q) {
    const out = [];
    for (const meter of q.meters)
      for (let ts = Math.ceil(q.from / HOUR) * HOUR; ts < q.to; ts += HOUR)
        out.push({ meter, ts, value: (0.5 * ts) / HOUR });
    return out;
  },
  async readings() {
    return [];
  },
  async close() {},
};

describe('a schedule and the prepaid policy on one room', () => {
  let loop: PolicyLoop | undefined;
  afterEach(async () => loop?.stop());

  it('a room that ran out of credit during lights-out is not re-closed in the morning', async () => {
    const time = { now: local(2026, 9, 14, 12) }; // Monday, in term
    const clock = () => time.now;
    const db = openBackofficeDb(':memory:');
    const audit = new AuditLog(db, clock);
    const prepaid = new Prepaid({ db, audit, tariffs, clock });
    const sent: SignedRelayCommand[] = [];
    const control = new RelayControl({
      ...{ db, audit, clock, locate },
      signingKey: testKeys().privateKey,
      ackKeys: (_s, gw) => (gw === 'gw1' ? gatewayKeys.gw1.publicKey : undefined),
      send: async (c) => {
        sent.push(c);
      },
      closeVeto: creditVeto(prepaid, clock),
    });
    const ack = () => ackEverySent(control, sent);
    for (const [id, meter, fen] of [
      ['ROOM-A-101', 'E-A-101', 100],
      ['ROOM-A-201', 'E-A-201', 50_000],
    ] as const) {
      prepaid.openAccount(clerk, { id, customerType: 'student-room', holder: id, meters: [meter] });
      prepaid.verifyTariffType(supervisor, id);
      prepaid.topUp(clerk, { account: id, amountFen: fen, method: 'cash', reference: `R-${id}` });
    }
    // The supervisor's standing approvals: prepaid cut-offs and restores, and the schedule.
    control.grantPolicyApproval(supervisor, {
      scope: { actions: ['open', 'close'] },
      reason: 'prepaid rules',
    });
    const proposals = new PolicyProposals(db, audit, control, clock);
    const runner = new ScheduleRunner({
      ...{ db, audit, control, proposals, clock, locate, timezone: TZ, logger: testLogger() },
      schedules: [dormSchedule()],
      meters: METERS,
    });
    const { version } = runner.version(dormSchedule());
    proposals.approve(supervisor, proposals.propose(clerk, version, 'dorm rules').id, version);
    loop = createPolicyLoop({
      ...{ prepaid, control, audit, store, clock, timezone: TZ, logger: testLogger() },
      hasRelay: (m) => !!locate(m)?.hasRelay,
      intervalMs: HOUR,
    });
    const room = (meter: string) => sent.filter((c) => c.meter === meter).map((c) => c.action);
    const holds = (meter: string) => control.holds(meter).map((h) => h.hold);

    time.now = local(2026, 9, 14, 23, 0);
    await runner.tick();
    ack();
    expect(room('E-A-101')).toEqual(['open']);

    // 00:10: Monday is debited; A-101 is below zero. Friendly hours would hold a cut-off, but the
    // relay is already open: the credit reason is recorded at once (the command moves nothing).
    time.now = local(2026, 9, 15, 0, 10);
    await loop.runOnce();
    ack();
    expect(prepaid.balance('ROOM-A-101')).toBeLessThan(0);
    expect(holds('E-A-101')).toEqual(['schedule:dorm-a-nights', 'credit']);
    expect(holds('E-A-201')).toEqual(['schedule:dorm-a-nights']);

    // 06:30: the schedule restores A-201 and not A-101 (refused: out of credit).
    time.now = local(2026, 9, 15, 6, 30);
    const [tick] = await runner.tick();
    ack();
    expect(tick!.waiting.map((w) => w.meter)).toEqual(['E-A-101']);
    expect(tick!.waiting[0]!.error).toMatch(/^CLOSE_VETOED: .*account ROOM-A-101 is out of credit/);
    expect(room('E-A-201')).toEqual(['open', 'close']);
    expect(room('E-A-101')).toEqual(['open', 'open']);
    await loop.runOnce();
    expect(room('E-A-101')).toEqual(['open', 'open']);

    // 10:00: topped up. The policy releases credit (the schedule still holds: no command), then
    // the schedule's waiting order releases its own and the room closes, once.
    time.now = local(2026, 9, 15, 10, 0);
    prepaid.topUp(clerk, { account: 'ROOM-A-101', amountFen: 5_000, method: 'cash', reference: 'R-2' });
    await loop.runOnce();
    ack();
    expect(control.list({ meter: 'E-A-101' }).at(-1)).toMatchObject({
      action: 'close',
      state: 'held',
      hold: 'credit',
    });
    expect(room('E-A-101')).toEqual(['open', 'open']);
    await runner.tick();
    ack();
    expect(room('E-A-101')).toEqual(['open', 'open', 'close']);
    expect(holds('E-A-101')).toEqual([]);
    await loop.runOnce();
    await runner.tick();
    expect(room('E-A-101')).toEqual(['open', 'open', 'close']);
    expect(audit.verify().ok).toBe(true);
  });

  it('the prepaid policy does not restore a paid-up room an inspector cut for an illegal load', async () => {
    const time = { now: local(2026, 9, 15, 10) };
    const clock = () => time.now;
    const db = openBackofficeDb(':memory:');
    const audit = new AuditLog(db, clock);
    const prepaid = new Prepaid({ db, audit, tariffs, clock });
    const sent: SignedRelayCommand[] = [];
    const control = new RelayControl({
      ...{ db, audit, clock, locate },
      signingKey: testKeys().privateKey,
      ackKeys: (_s, gw) => (gw === 'gw1' ? gatewayKeys.gw1.publicKey : undefined),
      send: async (c) => {
        sent.push(c);
      },
      closeVeto: creditVeto(prepaid, clock),
    });
    prepaid.openAccount(clerk, {
      id: 'ROOM-A-101',
      customerType: 'student-room',
      holder: 'x',
      meters: ['E-A-101'],
    });
    prepaid.verifyTariffType(supervisor, 'ROOM-A-101');
    prepaid.topUp(clerk, { account: 'ROOM-A-101', amountFen: 20_000, method: 'cash', reference: 'R-1' });
    control.grantPolicyApproval(supervisor, {
      scope: { actions: ['open', 'close'] },
      reason: 'prepaid rules',
    });
    const inspector = { id: 'insp.chen', kind: 'user' as const, roles: ['inspector' as const] };
    const cut = control.request({
      meter: 'E-A-101',
      action: 'open',
      reason: 'resistive heater found on site',
      requestedBy: inspector,
      hold: 'illegal-load',
    });
    await control.approve(supervisor, cut.id);
    control.handleAck(
      commandAckTopic('east', 'gw1', 'E-A-101'),
      signedAck({ id: sent[0]!.id, meter: 'E-A-101', action: 'open', observed: 'open' }),
    );
    loop = createPolicyLoop({
      ...{ prepaid, control, audit, store, clock, timezone: TZ, logger: testLogger() },
      hasRelay: (m) => !!locate(m)?.hasRelay,
      intervalMs: HOUR,
    });
    // The relay reads open and the balance is fine: before open reasons, this asked for a restore.
    await loop.runOnce();
    await loop.runOnce();
    expect(control.list().map((r) => [r.action, r.requestedBy])).toEqual([['open', 'insp.chen']]);
    expect(control.holds('E-A-101').map((h) => h.hold)).toEqual(['illegal-load']);
  });

  it('at night, a credit cut-off of a room already held open waits for a supervisor without churning', async () => {
    const time = { now: local(2026, 9, 15, 23, 30) };
    const clock = () => time.now;
    const db = openBackofficeDb(':memory:');
    const audit = new AuditLog(db, clock);
    const prepaid = new Prepaid({ db, audit, tariffs, clock });
    const control = new RelayControl({
      ...{ db, audit, clock, locate },
      signingKey: testKeys().privateKey,
      ackKeys: (_s, gw) => (gw === 'gw1' ? gatewayKeys.gw1.publicKey : undefined),
      send: async (c) => {
        sent.push(c);
      },
      closeVeto: creditVeto(prepaid, clock),
    });
    const sent: SignedRelayCommand[] = [];
    prepaid.openAccount(clerk, {
      id: 'ROOM-A-101',
      customerType: 'student-room',
      holder: 'x',
      meters: ['E-A-101'],
    });
    prepaid.verifyTariffType(supervisor, 'ROOM-A-101');
    const inspector = { id: 'insp.chen', kind: 'user' as const, roles: ['inspector' as const] };
    const cut = control.request({
      meter: 'E-A-101',
      action: 'open',
      reason: 'heater',
      requestedBy: inspector,
    });
    await control.approve(supervisor, cut.id);
    control.handleAck(
      commandAckTopic('east', 'gw1', 'E-A-101'),
      signedAck({ id: sent[0]!.id, meter: 'E-A-101', action: 'open', observed: 'open' }),
    );
    loop = createPolicyLoop({
      ...{ prepaid, control, audit, store, clock, timezone: TZ, logger: testLogger() },
      hasRelay: (m) => !!locate(m)?.hasRelay,
      intervalMs: HOUR,
    });
    // Balance 0 at 23:30, no standing approval for prepaid: the cut-off waits for a supervisor,
    // and later passes neither withdraw it as "held for the night" nor raise another.
    for (let i = 0; i < 3; i++) {
      await loop.runOnce();
      time.now += 10 * 60_000;
    }
    const policy = control.list().filter((r) => r.requestedBy !== 'insp.chen');
    expect(policy.map((r) => [r.action, r.state, r.hold])).toEqual([['open', 'pending', 'credit']]);
  });
});
