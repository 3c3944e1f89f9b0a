import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../services/platform/errors.ts';
import { POLICY_PROPOSAL_ERRORS } from '../../services/operations/schedules/errors.ts';
import { SCHEDULE_ACTOR } from '../../services/operations/schedules/runner.ts';
import {
  approve,
  clerk,
  dormSchedule,
  lead,
  local,
  operator,
  scheduleFixture,
  supervisor,
} from './support.ts';

/**
 * Schedules carried out through relay control: only under a supervisor's approval of the exact
 * version, each request and command audited, never against another reason to keep a room open.
 */

const ROOMS = ['E-A-101', 'E-A-102-L', 'E-A-201']; // E-A-102-AC is air-conditioning: left on

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ServiceError) return err.code;
    throw err;
  }
  return undefined;
}

describe('schedule approval', () => {
  it('acts on nothing until a supervisor other than the proposer approves the version', async () => {
    const fx = scheduleFixture();
    const { version, skipped } = fx.runner.version(dormSchedule());
    expect(version.meters).toEqual([...ROOMS].sort());
    expect(skipped).toEqual([
      { meter: 'E-A-102-AC', why: 'circuit air-conditioning is not switched by this schedule' },
      { meter: 'E-A-F1', why: 'no relay' },
      { meter: 'E-A-F2', why: 'no relay' },
    ]);

    fx.now.t = local(2026, 9, 14, 23, 5);
    expect(await fx.tick()).toEqual([
      { schedule: 'dorm-a-nights', status: 'not-approved', want: 'open', applied: [], waiting: [] },
    ]);
    const p = fx.proposals.propose(lead, version, 'autumn lights-out');
    await fx.tick();
    expect(fx.control.list()).toEqual([]);
    expect(fx.sent).toEqual([]);

    // The clerk-and-supervisor who wrote it may not approve it; an operator may not approve at all.
    expect(code(() => fx.proposals.approve(lead, p.id, version))).toBe('SELF_APPROVAL');
    expect(code(() => fx.proposals.approve(operator, p.id, version))).toBe('FORBIDDEN');
    expect(fx.control.activePolicyApprovals()).toEqual([]);

    const approved = fx.proposals.approve(supervisor, p.id, version);
    expect(approved.state).toBe('approved');
    const grant = fx.control.policyApproval(approved.grantId!);
    expect(grant.scope).toMatchObject({
      actions: ['open', 'close'],
      meters: version.meters,
      holds: ['schedule:dorm-a-nights'],
      basis: `schedule:dorm-a-nights@${approved.sha256}`,
    });
    expect(grant.grantedBy).toBe(supervisor.id);
  });

  it('a schedule edited after approval acts on nothing until the new text is approved', async () => {
    const fx = scheduleFixture();
    const first = approve(fx, dormSchedule());
    // The clerk moves lights-out to 22:30 in the campus file; the back office restarts with it.
    const edited = dormSchedule({ off: '22:30' });
    const runner = fx.makeRunner([edited]);
    fx.now.t = local(2026, 9, 14, 23, 5);
    expect((await fx.tick(runner))[0]).toMatchObject({ status: 'not-approved', applied: [] });
    expect(fx.control.list()).toEqual([]);
    // The old approval is void, on record.
    expect(fx.control.policyApproval(first.grantId!).revokedBy).toBe('system:standing-policies');
    expect(fx.audit.query({ action: 'relay.policy-approval.void' })).toHaveLength(1);
    // Approving the old proposal again is impossible, and approving a stale proposal is refused.
    const { version } = runner.version(edited);
    const stale = fx.proposals.propose(clerk, fx.runner.version(dormSchedule()).version, 'old text');
    expect(code(() => fx.proposals.approve(supervisor, stale.id, version))).toBe('STALE');
    expect(code(() => fx.proposals.approve(supervisor, first.id, version))).toBe('INVALID_STATE');

    const p = fx.proposals.propose(clerk, version, '22:30 from now on');
    fx.proposals.approve(supervisor, p.id, version);
    expect((await fx.tick(runner))[0]).toMatchObject({ status: 'approved', applied: [...ROOMS].sort() });
  });

  it('a forged request naming the schedule is not covered without the approved version', async () => {
    const fx = scheduleFixture();
    const approved = approve(fx, dormSchedule());
    const forged = {
      meter: 'E-A-101',
      action: 'close' as const,
      hold: 'schedule:dorm-a-nights',
      by: SCHEDULE_ACTOR,
      reason: 'forged',
      requireGrant: true,
    };
    for (const basis of [undefined, 'schedule:dorm-a-nights@' + '0'.repeat(64)]) {
      await expect(
        fx.control.requestFromPolicy({ ...forged, ...(basis ? { basis } : {}) }),
      ).rejects.toMatchObject({ code: 'NO_APPROVAL' });
    }
    // Nor may it reach a meter outside the approved list, even with the right basis.
    await expect(
      fx.control.requestFromPolicy({
        ...forged,
        meter: 'E-HH-1',
        basis: `schedule:dorm-a-nights@${approved.sha256}`,
      }),
    ).rejects.toMatchObject({ code: 'NO_APPROVAL' });
    expect(fx.control.list()).toEqual([]);
    expect(fx.sent).toEqual([]);
  });

  it('documents every proposal error code and uses it', async () => {
    const { readFileSync, readdirSync } = await import('node:fs');
    const dir = new URL('../../services/operations/schedules/', import.meta.url);
    const sources = readdirSync(dir)
      .filter((f) => f.endsWith('.ts') && f !== 'errors.ts')
      .map((f) => readFileSync(new URL(f, dir), 'utf8'))
      .join('\n');
    for (const [c, e] of Object.entries(POLICY_PROPOSAL_ERRORS)) {
      expect(e.description.length).toBeGreaterThan(10);
      expect(sources.includes(`'${c}'`), c).toBe(true);
    }
  });
});

describe('carrying out a schedule', () => {
  it('opens at lights-out and closes at power-on, each request approved by the standing approval and audited', async () => {
    const fx = scheduleFixture();
    const approved = approve(fx, dormSchedule());
    await fx.tick(); // Monday noon: nothing held, nothing to do
    expect(fx.sent).toEqual([]);

    fx.now.t = local(2026, 9, 14, 23, 0);
    expect((await fx.tick())[0]!.applied).toEqual([...ROOMS].sort());
    expect(fx.sent.map((c) => [c.meter, c.action])).toEqual(ROOMS.sort().map((m) => [m, 'open']));
    // A second tick in the same night asks nothing more.
    fx.now.t = local(2026, 9, 15, 2, 0);
    await fx.tick();
    expect(fx.sent).toHaveLength(3);
    expect(fx.control.holds('E-A-101').map((h) => h.hold)).toEqual(['schedule:dorm-a-nights']);

    fx.now.t = local(2026, 9, 15, 6, 30);
    await fx.tick();
    expect(fx.sent.slice(3).map((c) => [c.meter, c.action])).toEqual(ROOMS.sort().map((m) => [m, 'close']));
    expect(fx.control.holds('E-A-101')).toEqual([]);

    const req = fx.control.list({ meter: 'E-A-101' });
    expect(req.map((r) => [r.action, r.state, r.requestedBy, r.decidedBy])).toEqual([
      ['open', 'done', SCHEDULE_ACTOR, `policy-approval:${approved.grantId}`],
      ['close', 'done', SCHEDULE_ACTOR, `policy-approval:${approved.grantId}`],
    ]);
    expect(fx.audit.query({ subject: `relay-request:${req[0]!.id}` }).map((e) => e.action)).toEqual([
      'relay.request',
      'relay.approve',
      'relay.command',
      'relay.sent',
      'relay.ack',
    ]);
    expect(fx.audit.query({ subject: 'meter:E-A-101' }).map((e) => [e.action, e.actor])).toEqual([
      ['relay.hold', 'system:control'],
      ['relay.hold-release', 'system:control'],
    ]);
    expect(fx.audit.verify().ok).toBe(true);
  });

  it('skips a night on the holiday list', async () => {
    const fx = scheduleFixture();
    approve(fx, dormSchedule());
    fx.now.t = local(2026, 9, 30, 23, 30); // Wednesday 30 September, on the holiday list
    await fx.tick();
    fx.now.t = local(2026, 10, 1, 3, 0);
    await fx.tick();
    expect(fx.sent).toEqual([]);
    fx.now.t = local(2026, 10, 1, 23, 30); // Thursday 1 October: not on the list
    await fx.tick();
    expect(fx.sent).toHaveLength(3);
  });

  it('never re-closes a room out of credit in the morning', async () => {
    const outOfCredit = new Set<string>();
    const fx = scheduleFixture([dormSchedule()], (m) =>
      outOfCredit.has(m) ? 'account ROOM-A-101 at -120 fen' : null,
    );
    approve(fx, dormSchedule());
    // The prepaid policy's cut-off of A-101 under its own (prepaid) standing approval.
    fx.control.grantPolicyApproval(supervisor, { scope: { actions: ['open', 'close'] }, reason: 'prepaid' });
    fx.now.t = local(2026, 9, 14, 23, 0);
    await fx.tick();
    fx.now.t += 60_000;
    await fx.control.requestFromPolicy({
      meter: 'E-A-101',
      action: 'open',
      reason: 'balance 0',
      hold: 'credit',
    });
    fx.ackAll();
    expect(fx.control.holds('E-A-101').map((h) => h.hold)).toEqual(['schedule:dorm-a-nights', 'credit']);

    fx.now.t = local(2026, 9, 15, 6, 30);
    await fx.tick();
    const closes = fx.sent.filter((c) => c.action === 'close').map((c) => c.meter);
    expect(closes).toEqual(['E-A-102-L', 'E-A-201']);
    // The schedule's restore released its own reason and ended held, with no command.
    const last = fx.control.list({ meter: 'E-A-101' }).at(-1)!;
    expect(last).toMatchObject({ action: 'close', state: 'held', commandId: null });
    expect(fx.control.holds('E-A-101').map((h) => h.hold)).toEqual(['credit']);

    // A room that ran out of credit with no cut-off on record yet: the restore is refused outright.
    outOfCredit.add('E-A-201');
    fx.now.t = local(2026, 9, 15, 23, 0);
    await fx.tick();
    fx.now.t = local(2026, 9, 16, 6, 30);
    const tick = (await fx.tick())[0]!;
    expect(tick.waiting).toEqual([
      { meter: 'E-A-201', error: expect.stringMatching(/^CLOSE_VETOED: .*-120 fen/) },
    ]);
    expect(fx.sent.filter((c) => c.meter === 'E-A-201').map((c) => c.action)).toEqual([
      'open',
      'close',
      'open',
    ]);
    // Topped up: the next tick carries the morning's order out.
    outOfCredit.delete('E-A-201');
    await fx.tick();
    expect(fx.sent.filter((c) => c.meter === 'E-A-201').map((c) => c.action)).toEqual([
      'open',
      'close',
      'open',
      'close',
    ]);
  });

  it('a person restoring a room at night (two people) is not overruled until the next night', async () => {
    const fx = scheduleFixture();
    approve(fx, dormSchedule());
    fx.now.t = local(2026, 9, 14, 23, 0);
    await fx.tick();
    const req = fx.control.request({
      meter: 'E-A-201',
      action: 'close',
      reason: 'exam revision, approved by the dean',
      requestedBy: operator,
    });
    await fx.control.approve(supervisor, req.id);
    fx.ackAll();
    expect(fx.control.holds('E-A-201')).toEqual([]);
    fx.now.t = local(2026, 9, 15, 1, 0);
    await fx.tick();
    expect(fx.sent.filter((c) => c.meter === 'E-A-201').map((c) => c.action)).toEqual(['open', 'close']);
    fx.now.t = local(2026, 9, 15, 23, 0);
    await fx.tick();
    expect(fx.sent.filter((c) => c.meter === 'E-A-201').map((c) => c.action)).toEqual([
      'open',
      'close',
      'open',
    ]);
  });

  it('a crash after a request and before its order is marked done asks nothing twice', async () => {
    const fx = scheduleFixture();
    approve(fx, dormSchedule());
    fx.now.t = local(2026, 9, 14, 23, 0);
    await fx.tick();
    // As if the process died between the relay request and recording the order as done.
    fx.db.prepare('UPDATE schedule_orders SET done = 0').run();
    const again = fx.makeRunner();
    expect((await fx.tick(again))[0]!.applied).toEqual([...ROOMS].sort());
    expect(fx.sent).toHaveLength(3);
    expect(fx.control.list()).toHaveLength(3);
  });

  it('waits while another request is open on the meter, then carries the order out', async () => {
    const fx = scheduleFixture();
    approve(fx, dormSchedule());
    const manual = fx.control.request({
      meter: 'E-A-101',
      action: 'open',
      reason: 'inspection',
      requestedBy: operator,
    });
    fx.now.t = local(2026, 9, 14, 23, 0);
    const first = (await fx.tick())[0]!;
    expect(first.waiting).toEqual([{ meter: 'E-A-101', error: expect.stringMatching(/^REQUEST_OPEN/) }]);
    fx.control.cancel(operator, manual.id, 'not needed');
    expect((await fx.tick())[0]!.applied).toEqual(['E-A-101']);
  });
});
