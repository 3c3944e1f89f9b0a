import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { apiFixture, takeOverAccount, type ApiFixture } from './support.ts';

/**
 * One administrator alone, with every role they can reach, against every two-person rule, over
 * HTTP as the web app would call it. The second administrator is gullible: they approve whatever
 * the first proposes, and the one-time codes end up with the insider (the worst case). The
 * insider then holds an operator, two clerks, a supervisor of their own making, and a real
 * supervisor whose password they had reset. Not one two-person act completes; honest,
 * independent staff still complete each one.
 */
let f: ApiFixture;
const PW = 'chosen by the insider';
const sessions: Record<string, string> = {};

async function as(
  user: string,
  method: 'GET' | 'POST',
  url: string,
  payload: object = {},
): Promise<LightMyRequestResponse> {
  return f.app.inject({
    method,
    url,
    ...(method === 'POST' ? { payload } : {}),
    headers: { authorization: `Bearer ${sessions[user]}` },
  });
}

/** The insider's way to an account (support.ts). */
async function takeOver(proposal: LightMyRequestResponse, username: string): Promise<void> {
  sessions[username] = await takeOverAccount(f, proposal, username, PW);
}

const linked = (res: LightMyRequestResponse, what: string) => {
  expect(res.statusCode, `${what}: ${res.body}`).toBe(403);
  expect(res.json().code, what).toBe('LINKED_ACCOUNTS');
};

beforeAll(async () => {
  f = await apiFixture();
  for (const [username, role] of [
    ['mal.operator', 'operator'],
    ['mal.operator2', 'operator'],
    ['mal.clerk', 'clerk'],
    ['mal.supervisor', 'supervisor'],
  ] as const) {
    await takeOver(
      await f.call('admin', 'POST', '/api/users', { username, displayName: username, roles: [role] }),
      username,
    );
  }
  // A real supervisor's password, reset on the insider's proposal.
  await takeOver(
    await f.call('admin', 'POST', '/api/users/supervisor2.test/password', { reason: 'forgot it' }),
    'supervisor2.test',
  );
  // An account for the money acts, opened by the insider's clerk; one by an honest clerk.
  expect(
    (
      await as('mal.clerk', 'POST', '/api/accounts', {
        id: 'M1',
        customerType: 'student-room',
        holder: 'Room M1',
        meters: ['E-M1'],
      })
    ).statusCode,
  ).toBe(201);
  expect(
    (
      await f.call('clerk', 'POST', '/api/accounts', {
        id: 'H1',
        customerType: 'student-room',
        holder: 'Room H1',
        meters: ['E-H1'],
      })
    ).statusCode,
  ).toBe(201);
  expect((await f.call('supervisor', 'POST', '/api/accounts/H1/verify-tariff')).statusCode).toBe(200);
  expect(
    (
      await f.call('clerk', 'POST', '/api/topups', {
        account: 'H1',
        amountFen: 9000,
        method: 'cash',
        reference: 'INS-1',
      })
    ).statusCode,
  ).toBe(201);
}, 60_000);
afterAll(() => f.close());

describe('one administrator alone', () => {
  it('cannot approve their own user administration', async () => {
    const req = await f.call('admin', 'POST', '/api/users', {
      username: 'mal.x',
      displayName: 'x',
      roles: ['supervisor'],
    });
    const self = await f.call('admin', 'POST', `/api/user-requests/${req.json().id}/approve`);
    expect(self.json().code).toBe('SELF_APPROVAL');
  });

  it('relay cut-off and restore: their operator requests, their supervisors approve: refused, nothing sent', async () => {
    for (const action of ['open', 'close'] as const) {
      const req = await as('mal.operator', 'POST', '/api/relay-requests', {
        meter: `E-3${action === 'open' ? 1 : 2}`,
        action,
        reason: 'insider',
      });
      expect(req.statusCode).toBe(201);
      for (const sup of ['mal.supervisor', 'supervisor2.test']) {
        linked(await as(sup, 'POST', `/api/relay-requests/${req.json().id}/approve`), `${action} by ${sup}`);
      }
    }
    expect(f.sent).toHaveLength(0);
  });

  it('tariff-type verification of an account their clerk opened: refused', async () => {
    linked(await as('mal.supervisor', 'POST', '/api/accounts/M1/verify-tariff'), 'verify-tariff');
    linked(
      await as('supervisor2.test', 'POST', '/api/accounts/M1/verify-tariff'),
      'verify-tariff by the reset supervisor',
    );
  });

  it('refund, meter reset and free quota on an honest account: their clerk asks, their supervisors approve: refused', async () => {
    const refund = await as('mal.clerk', 'POST', '/api/refunds', {
      account: 'H1',
      amountFen: 1000,
      method: 'cash',
      reason: 'insider',
    });
    expect(refund.statusCode, refund.body).toBe(201);
    linked(await as('mal.supervisor', 'POST', `/api/refunds/${refund.json().id}/approve`), 'refund');
    const reset = await as('mal.clerk', 'POST', '/api/meter-resets', {
      account: 'H1',
      meter: 'E-H1',
      at: Date.UTC(2026, 9, 1),
      reason: 'insider',
    });
    expect(reset.statusCode, reset.body).toBe(201);
    linked(
      await as('supervisor2.test', 'POST', `/api/meter-resets/${reset.json().id}/approve`),
      'meter reset',
    );
    const quota = await as('mal.clerk', 'POST', '/api/free-quota', {
      account: 'H1',
      period: '2026-10',
      kwh: 5,
    });
    expect(quota.statusCode, quota.body).toBe(201);
    linked(await as('mal.supervisor', 'POST', `/api/free-quota/${quota.json().id}/confirm`), 'free quota');
  });

  it('line operations: recorded by one of their operators, confirmed by the other: refused', async () => {
    const op = await as('mal.operator', 'POST', '/api/line-operations', {
      line: 'F-7',
      action: 'cut',
      reason: 'insider',
      at: Date.UTC(2026, 10, 1),
    });
    expect(op.statusCode, op.body).toBe(201);
    linked(
      await as('mal.operator2', 'POST', `/api/line-operations/${op.json().id}/confirm`),
      'line operation',
    );
  });

  it('standing policy: their supervisor may grant one, but it never approves a request a person raised', async () => {
    const grant = await as('mal.supervisor', 'POST', '/api/policy-approvals', {
      scope: { actions: ['open', 'close'] },
      reason: 'insider',
    });
    expect(grant.statusCode, grant.body).toBe(201);
    const req = await as('mal.operator', 'POST', '/api/relay-requests', {
      meter: 'E-33',
      action: 'open',
      reason: 'insider',
    });
    expect(req.json().state).toBe('pending');
    expect(f.sent).toHaveLength(0);
  });

  it('honest, independent staff still complete each act (the control)', async () => {
    const refund = await f.call('clerk', 'POST', '/api/refunds', {
      account: 'H1',
      amountFen: 500,
      method: 'cash',
      reason: 'moving out',
    });
    expect((await f.call('supervisor', 'POST', `/api/refunds/${refund.json().id}/approve`)).statusCode).toBe(
      200,
    );
    const req = await f.call('operator', 'POST', '/api/relay-requests', {
      meter: 'E-41',
      action: 'open',
      reason: 'arrears',
    });
    expect(
      (await f.call('supervisor', 'POST', `/api/relay-requests/${req.json().id}/approve`)).statusCode,
    ).toBe(200);
    expect(f.sent).toHaveLength(1);
  });
});
