import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../services/platform/errors.ts';
import {
  SignedRelayCommandSchema,
  commandAckTopic,
  verifyCommandSignature,
  type RelayAck,
} from '../../services/operations/control/commands.ts';
import { CONTROL_ERRORS } from '../../services/operations/control/errors.ts';
import { POLICY_ACTOR } from '../../services/operations/control/relay-control.ts';
import { controlFixture, people, signedAck } from './support.ts';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ServiceError) return err.code;
    throw err;
  }
  return undefined;
}

async function codeAsync(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ServiceError) return err.code;
    throw err;
  }
  return undefined;
}

const ackTopic = commandAckTopic('east', 'gw1', 'E-101');
function ack(id: string, extra: Partial<Omit<RelayAck, 'sig'>> = {}): string {
  return signedAck({ id, ...extra });
}

describe('relay requests', () => {
  it('sends a signed command only after a second person approves, and records every step', async () => {
    const { control, sent, keys, audit } = controlFixture();
    const req = control.request({
      meter: 'E-101',
      action: 'open',
      reason: 'arrears',
      requestedBy: people.clerk,
    });
    expect(req.state).toBe('pending');
    expect(sent).toHaveLength(0);

    const approved = await control.approve(people.supervisor, req.id, 'checked the account');
    expect(approved.state).toBe('sent');
    expect(sent).toHaveLength(1);
    const cmd = SignedRelayCommandSchema.parse(sent[0]);
    expect(cmd).toMatchObject({
      meter: 'E-101',
      site: 'east',
      gateway: 'gw1',
      action: 'open',
      requestId: req.id,
    });
    expect(cmd.expiresAt - cmd.issuedAt).toBe(5 * 60_000);
    expect(verifyCommandSignature(cmd, keys.publicKey)).toBe(true);
    expect(verifyCommandSignature({ ...cmd, action: 'close' }, keys.publicKey)).toBe(false);

    expect(control.handleAck(ackTopic, ack(cmd.id))).toEqual({
      kind: 'recorded',
      requestId: req.id,
      ok: true,
      late: false,
    });
    expect(control.get(req.id)).toMatchObject({ state: 'done', observed: 'open', error: null });
    const actions = audit.query({ subject: `relay-request:${req.id}` }).map((e) => [e.action, e.actor]);
    expect(actions).toEqual([
      ['relay.request', people.clerk.id],
      ['relay.approve', people.supervisor.id],
      ['relay.command', 'system:control'],
      ['relay.sent', 'system:control'],
      ['relay.ack', 'gateway:east/gw1'],
    ]);
    expect(audit.verify().ok).toBe(true);
  });

  it('refuses self-approval and approvers without the role, and leaves the request pending', async () => {
    const { control, sent, audit } = controlFixture();
    const req = control.request({
      meter: 'E-101',
      action: 'open',
      reason: 'arrears',
      requestedBy: people.supervisor,
    });
    expect(await codeAsync(() => control.approve(people.supervisor, req.id))).toBe('SELF_APPROVAL');
    expect(await codeAsync(() => control.approve(people.clerk, req.id))).toBe('FORBIDDEN');
    expect(
      code(() =>
        control.request({ meter: 'E-102', action: 'open', reason: 'x', requestedBy: people.reader }),
      ),
    ).toBe('FORBIDDEN');
    expect(control.get(req.id).state).toBe('pending');
    expect(sent).toHaveLength(0);
    expect(audit.query({ action: 'relay.approve' })).toHaveLength(0);
    // Another operator may not: customer cut-offs are approved by a supervisor.
    expect(await codeAsync(() => control.approve(people.operator2, req.id))).toBe('FORBIDDEN');
    expect((await control.approve(people.supervisor2, req.id)).state).toBe('sent');
  });

  it('validates requests and keeps one open request per meter', () => {
    const { control } = controlFixture();
    const by = people.operator;
    expect(code(() => control.request({ meter: 'X-1', action: 'open', reason: 'r', requestedBy: by }))).toBe(
      'UNKNOWN_METER',
    );
    expect(
      code(() => control.request({ meter: 'E-1-norelay', action: 'open', reason: 'r', requestedBy: by })),
    ).toBe('NO_RELAY');
    expect(code(() => control.request({ meter: 'E-1', action: 'open', reason: ' ', requestedBy: by }))).toBe(
      'BAD_INPUT',
    );
    expect(
      code(() =>
        control.request({ meter: 'E-1', action: 'explode' as 'open', reason: 'r', requestedBy: by }),
      ),
    ).toBe('BAD_INPUT');
    control.request({ meter: 'E-1', action: 'open', reason: 'r', requestedBy: by });
    expect(code(() => control.request({ meter: 'E-1', action: 'close', reason: 'r', requestedBy: by }))).toBe(
      'REQUEST_OPEN',
    );
  });

  it('rejects and cancels pending requests, never decided ones', async () => {
    const { control, sent } = controlFixture();
    const a = control.request({ meter: 'E-1', action: 'open', reason: 'r', requestedBy: people.clerk });
    expect(code(() => control.reject(people.clerk, a.id, 'no'))).toBe('FORBIDDEN');
    expect(control.reject(people.supervisor, a.id, 'account paid').state).toBe('rejected');
    expect(await codeAsync(() => control.approve(people.operator, a.id))).toBe('INVALID_STATE');
    const b = control.request({ meter: 'E-1', action: 'open', reason: 'r', requestedBy: people.clerk });
    expect(code(() => control.cancel(people.reader, b.id, 'x'))).toBe('FORBIDDEN');
    expect(control.cancel(people.clerk, b.id, 'wrong meter').state).toBe('cancelled');
    expect(sent).toHaveLength(0);
  });

  it('records a timeout, and a late ack after it', async () => {
    const { control, sent, now, audit } = controlFixture();
    const req = control.request({ meter: 'E-101', action: 'open', reason: 'r', requestedBy: people.clerk });
    await control.approve(people.supervisor, req.id);
    now.t += 5 * 60_000;
    expect(control.checkTimeouts()).toBe(0);
    now.t += 30_000;
    expect(control.checkTimeouts()).toBe(1);
    expect(control.get(req.id).state).toBe('timed_out');
    expect(audit.query({ action: 'relay.timeout' })).toHaveLength(1);
    expect(control.handleAck(ackTopic, ack(sent[0]!.id))).toMatchObject({ kind: 'recorded', late: true });
    expect(control.get(req.id).state).toBe('done');
  });

  it('records failed, unknown, duplicate and misrouted acks', async () => {
    const { control, sent, audit } = controlFixture();
    const req = control.request({ meter: 'E-101', action: 'open', reason: 'r', requestedBy: people.clerk });
    await control.approve(people.supervisor, req.id);
    const id = sent[0]!.id;
    expect(control.handleAck(commandAckTopic('east', 'gw2', 'E-101'), signedAck({ id }, 'gw2'))).toEqual({
      kind: 'mismatch',
      commandId: id,
    });
    expect(
      control.handleAck(ackTopic, ack(id, { ok: false, observed: null, error: 'RELAY_WRITE_FAILED' })),
    ).toMatchObject({
      kind: 'recorded',
      ok: false,
    });
    expect(control.get(req.id)).toMatchObject({ state: 'failed', error: 'RELAY_WRITE_FAILED' });
    expect(
      control.handleAck(ackTopic, ack(id, { ok: false, observed: null, error: 'REPLAYED' })),
    ).toMatchObject({
      kind: 'duplicate',
    });
    const forged = '6f1c1f40-0000-4000-8000-000000000000';
    expect(
      control.handleAck(ackTopic, ack(forged, { ok: false, observed: null, error: 'BAD_SIGNATURE' })),
    ).toMatchObject({
      kind: 'unknown',
    });
    expect(control.handleAck(ackTopic, 'not json')).toMatchObject({ kind: 'invalid' });
    // Not signed by the gateway: nobody's outcome.
    expect(control.handleAck(ackTopic, '{"id": 3}')).toMatchObject({ kind: 'forged' });
    expect(audit.query({ action: 'relay.ack-' }).map((e) => e.action)).toEqual([
      'relay.ack-mismatch',
      'relay.ack-duplicate',
      'relay.ack-unknown',
      'relay.ack-forged',
    ]);
  });

  it('marks a command the broker did not take as failed', async () => {
    const { control } = controlFixture({ send: () => Promise.reject(new Error('connection closed')) });
    const req = control.request({ meter: 'E-101', action: 'open', reason: 'r', requestedBy: people.clerk });
    expect(await control.approve(people.supervisor, req.id)).toMatchObject({
      state: 'failed',
      error: 'SEND_FAILED',
    });
  });
});

describe('policy-raised requests', () => {
  it('wait for a supervisor unless a standing approval of their scope covers them', async () => {
    const { control, sent, audit, now } = controlFixture();
    const first = await control.requestFromPolicy({
      meter: 'E-1',
      action: 'open',
      reason: 'balance below zero',
    });
    expect(first).toMatchObject({ state: 'pending', requestedBy: POLICY_ACTOR, source: 'policy' });
    // Operators approve people's requests, not the policy's.
    expect(await codeAsync(() => control.approve(people.operator, first.id))).toBe('FORBIDDEN');
    expect((await control.approve(people.supervisor, first.id)).state).toBe('sent');

    expect(
      code(() => control.grantPolicyApproval(people.operator, { scope: { actions: ['open'] }, reason: 'x' })),
    ).toBe('FORBIDDEN');
    const grant = control.grantPolicyApproval(people.supervisor, {
      scope: { actions: ['open'], sites: ['east'] },
      reason: 'prepaid cut-offs in east during term',
      until: now.t + 86_400_000,
    });
    const auto = await control.requestFromPolicy({
      meter: 'E-2',
      action: 'open',
      reason: 'balance below zero',
    });
    expect(auto).toMatchObject({ state: 'sent', decidedBy: `policy-approval:${grant.id}` });
    // Out of scope: a restore.
    expect((await control.requestFromPolicy({ meter: 'E-3', action: 'close', reason: 'paid' })).state).toBe(
      'pending',
    );
    // Never a person's request.
    expect(
      control.request({ meter: 'E-4', action: 'open', reason: 'r', requestedBy: people.clerk }).state,
    ).toBe('pending');

    control.revokePolicyApproval(people.supervisor, grant.id, 'term ended');
    expect(code(() => control.revokePolicyApproval(people.supervisor, grant.id, 'again'))).toBe(
      'INVALID_STATE',
    );
    expect((await control.requestFromPolicy({ meter: 'E-5', action: 'open', reason: 'r' })).state).toBe(
      'pending',
    );
    expect(sent.map((c) => c.meter)).toEqual(['E-1', 'E-2']);
    expect(audit.query({ action: 'relay.policy-approval.' }).map((e) => e.action)).toEqual([
      'relay.policy-approval.grant',
      'relay.policy-approval.revoke',
    ]);
  });

  it('stops auto-approving when a standing approval expires', async () => {
    const { control, now } = controlFixture();
    control.grantPolicyApproval(people.supervisor, {
      scope: { actions: ['open'] },
      reason: 'r',
      until: now.t + 1000,
    });
    now.t += 1000;
    expect((await control.requestFromPolicy({ meter: 'E-1', action: 'open', reason: 'r' })).state).toBe(
      'pending',
    );
  });
});

describe('power-room records', () => {
  it('needs a second person to confirm a line cut or restore', () => {
    const { control, now, audit } = controlFixture();
    const op = control.recordLineOperation(people.operator, {
      line: 'East 10 kV feeder 3',
      action: 'cut',
      reason: 'transformer maintenance',
      at: now.t - 60_000,
    });
    expect(op.state).toBe('unconfirmed');
    expect(control.lineOperations({ state: 'unconfirmed' }).map((o) => o.id)).toEqual([op.id]);
    expect(code(() => control.confirmLineOperation(people.operator, op.id))).toBe('SELF_APPROVAL');
    expect(code(() => control.confirmLineOperation(people.clerk, op.id))).toBe('FORBIDDEN');
    expect(
      code(() =>
        control.recordLineOperation(people.clerk, { line: 'x', action: 'cut', reason: 'r', at: now.t }),
      ),
    ).toBe('FORBIDDEN');
    expect(
      code(() =>
        control.recordLineOperation(people.operator, {
          line: 'x',
          action: 'cut',
          reason: 'r',
          at: now.t + 3_600_000,
        }),
      ),
    ).toBe('BAD_INPUT');
    expect(control.confirmLineOperation(people.operator2, op.id).state).toBe('confirmed');
    expect(control.lineOperations({ state: 'unconfirmed' })).toEqual([]);
    expect(control.lineOperations().map((o) => [o.id, o.state])).toEqual([[op.id, 'confirmed']]);
    expect(code(() => control.confirmLineOperation(people.supervisor, op.id))).toBe('INVALID_STATE');
    expect(audit.query({ subject: `line-operation:${op.id}` }).map((e) => e.action)).toEqual([
      'line.cut',
      'line.confirm',
    ]);
  });

  it('hands over a shift with what is still open', () => {
    const { control, now, audit } = controlFixture();
    const req = control.request({ meter: 'E-1', action: 'open', reason: 'r', requestedBy: people.clerk });
    const op = control.recordLineOperation(people.operator, {
      line: 'L1',
      action: 'restore',
      reason: 'r',
      at: now.t,
    });
    expect(code(() => control.handover(people.operator, people.operator.id, 'n'))).toBe('BAD_INPUT');
    const h = control.handover(people.operator, people.operator2.id, 'feeder 3 back at 07:40');
    expect(h.open).toEqual({ requests: [req.id], lineOperations: [op.id] });
    expect(audit.query({ action: 'shift.handover' })[0]).toMatchObject({
      actor: people.operator.id,
      reason: 'feeder 3 back at 07:40',
    });
  });
});

describe('error catalogue', () => {
  it('documents every code and every code is used', () => {
    const sources = readdirSync(new URL('../../services/operations/control/', import.meta.url))
      .filter((f) => f.endsWith('.ts') && f !== 'errors.ts')
      .map((f) => readFileSync(new URL(`../../services/operations/control/${f}`, import.meta.url), 'utf8'))
      .join('\n');
    for (const [c, entry] of Object.entries(CONTROL_ERRORS)) {
      expect(entry.description.length, c).toBeGreaterThan(10);
      expect(sources.includes(`'${c}'`), `${c} is used`).toBe(true);
    }
  });
});
