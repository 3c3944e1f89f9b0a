import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SignedRelayCommandSchema,
  verifyCommandSignature,
} from '../../../services/operations/control/commands.ts';
import { apiFixture, type ApiFixture } from './support.ts';

let f: ApiFixture;
beforeAll(async () => {
  f = await apiFixture();
});
afterAll(() => f.close());

describe('cut-off through the API', () => {
  it('operator requests, supervisor approves, a signed command goes out; the audit log has every step and verifies', async () => {
    const req = await f.call('operator', 'POST', '/api/relay-requests', {
      meter: 'E-101',
      action: 'open',
      reason: 'balance exhausted, notices sent',
    });
    expect(req.statusCode).toBe(201);
    expect(req.json()).toMatchObject({ state: 'pending', requestedBy: 'operator.test', source: 'user' });
    const id = req.json().id as number;
    expect(f.sent).toHaveLength(0);

    const listed = await f.call('supervisor', 'GET', '/api/relay-requests?state=pending');
    expect(listed.json().map((r: { id: number }) => r.id)).toEqual([id]);

    const approved = await f.call('supervisor', 'POST', `/api/relay-requests/${id}/approve`, {
      note: 'checked the account',
    });
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toMatchObject({ state: 'sent', decidedBy: 'supervisor.test' });
    expect(f.sent).toHaveLength(1);
    const cmd = SignedRelayCommandSchema.parse(f.sent[0]);
    expect(cmd).toMatchObject({
      meter: 'E-101',
      site: 'east',
      gateway: 'gw1',
      action: 'open',
      requestId: id,
    });
    expect(verifyCommandSignature(cmd, f.keys.publicKey)).toBe(true);
    expect(approved.json().commandId).toBe(cmd.id);

    const audit = await f.call('supervisor', 'GET', `/api/audit?subject=relay-request:${id}`);
    expect(audit.statusCode).toBe(200);
    expect(audit.json().map((e: { action: string; actor: string }) => [e.action, e.actor])).toEqual([
      ['relay.request', 'operator.test'],
      ['relay.approve', 'supervisor.test'],
      ['relay.command', 'system:control'],
      ['relay.sent', 'system:control'],
    ]);

    const verify = await f.call('operator', 'POST', '/api/audit/verify');
    expect(verify.statusCode).toBe(200);
    expect(verify.json()).toMatchObject({ ok: true, chain: { ok: true }, missingTriggers: [], tables: [] });
    const head = (await f.call('clerk', 'GET', '/api/audit/head')).json().head;
    expect(verify.json().chain.head).toEqual(head);
    const pinned = await f.call('inspector', 'POST', '/api/audit/verify', {
      expectedHead: { seq: head.seq, hash: head.hash },
    });
    expect(pinned.json().ok).toBe(true);
    const rewritten = await f.call('inspector', 'POST', '/api/audit/verify', {
      expectedHead: { seq: head.seq, hash: 'f'.repeat(64) },
    });
    expect(rewritten.json()).toMatchObject({
      ok: false,
      chain: { ok: false, firstBroken: { seq: head.seq } },
    });
  });

  it('a supervisor may not approve their own request (403 SELF_APPROVAL); nothing is sent', async () => {
    const req = await f.call('supervisor', 'POST', '/api/relay-requests', {
      meter: 'E-102',
      action: 'close',
      reason: 'paid at the counter',
    });
    const id = req.json().id as number;
    const sentBefore = f.sent.length;
    const self = await f.call('supervisor', 'POST', `/api/relay-requests/${id}/approve`);
    expect(self.statusCode).toBe(403);
    expect(self.json().code).toBe('SELF_APPROVAL');
    expect(f.sent).toHaveLength(sentBefore);
    expect((await f.call('operator', 'GET', `/api/relay-requests/${id}`)).json().state).toBe('pending');

    const rejected = await f.call('supervisor2', 'POST', `/api/relay-requests/${id}/reject`, {
      reason: 'payment not yet cleared',
    });
    expect(rejected.json()).toMatchObject({ state: 'rejected', decisionNote: 'payment not yet cleared' });
  });

  it('the requester cancels; unknown meters and meters without a relay are refused', async () => {
    const req = await f.call('clerk', 'POST', '/api/relay-requests', {
      meter: 'E-103',
      action: 'open',
      reason: 'x',
    });
    const cancelled = await f.call('clerk', 'POST', `/api/relay-requests/${req.json().id}/cancel`, {
      reason: 'wrong room',
    });
    expect(cancelled.json().state).toBe('cancelled');
    const unknown = await f.call('operator', 'POST', '/api/relay-requests', {
      meter: 'W-1',
      action: 'open',
      reason: 'x',
    });
    expect(unknown.statusCode).toBe(404);
    const noRelay = await f.call('operator', 'POST', '/api/relay-requests', {
      meter: 'E-9-norelay',
      action: 'open',
      reason: 'x',
    });
    expect(noRelay.statusCode).toBe(422);
    expect(noRelay.json().code).toBe('NO_RELAY');
  });

  it('standing policy approvals: granted and revoked by a supervisor only', async () => {
    const body = { scope: { actions: ['open'], sites: ['east'] }, reason: 'night arrears policy' };
    expect((await f.call('operator', 'POST', '/api/policy-approvals', body)).statusCode).toBe(403);
    const granted = await f.call('supervisor', 'POST', '/api/policy-approvals', body);
    expect(granted.statusCode).toBe(201);
    const id = granted.json().id as number;
    expect((await f.call('operator', 'GET', '/api/policy-approvals')).json()).toHaveLength(1);
    const revoked = await f.call('supervisor2', 'POST', `/api/policy-approvals/${id}/revoke`, {
      reason: 'term over',
    });
    expect(revoked.json()).toMatchObject({ revokedBy: 'supervisor2.test' });
    expect((await f.call('operator', 'GET', '/api/policy-approvals')).json()).toEqual([]);
  });
});

describe('power room', () => {
  it('a line operation is confirmed by a second person, not its recorder; the shift handover lists what is open', async () => {
    const op = await f.call('operator', 'POST', '/api/line-operations', {
      line: 'east-10kV-feeder-3',
      action: 'cut',
      reason: 'planned maintenance',
      at: f.clock() - 60_000,
    });
    expect(op.statusCode).toBe(201);
    const id = op.json().id as number;
    const self = await f.call('operator', 'POST', `/api/line-operations/${id}/confirm`);
    expect(self.json().code).toBe('SELF_APPROVAL');

    const handover = await f.call('operator', 'POST', '/api/shift-handovers', {
      to: 'operator2.test',
      notes: 'feeder 3 cut for maintenance',
    });
    expect(handover.statusCode).toBe(201);
    expect(handover.json().open.lineOperations).toEqual([id]);

    const confirmed = await f.call('operator2', 'POST', `/api/line-operations/${id}/confirm`, {
      note: 'seen',
    });
    expect(confirmed.json()).toMatchObject({ state: 'confirmed', confirmedBy: 'operator2.test' });
    expect((await f.call('supervisor', 'GET', `/api/line-operations/${id}`)).json().state).toBe('confirmed');
  });
});
