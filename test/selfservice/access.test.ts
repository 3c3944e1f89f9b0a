import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localTimeToUtc } from '../../services/metering/consumption/zone.ts';
import { POLICY_SYSTEM_ACTOR } from '../../services/backoffice/policy-loop.ts';
import { PASSWORD, startStack, TZ, type Stack } from './support.ts';

/**
 * Issue 13 item 3 over HTTP on the whole back office: a customer's own sign-in (issued by a clerk
 * with a one-time code, audited), reaching only their own account's self-service routes — every
 * staff route is tried with the customer's cookie and token — balance, remaining days, consumption,
 * tariff, entries, and a top-up paid at the simulated provider.
 */

let s: Stack;
let alice: string;
let bob: string;
beforeAll(async () => {
  s = await startStack();
  await s.openAccount('E1-101');
  await s.openAccount('E1-102');
  alice = await s.signUp('E1-101', 'stu.alice', 'alice@example.edu');
  bob = await s.signUp('E1-102', 'stu.bob');
}, 60_000);
afterAll(() => s?.stop());

describe('a customer’s sign-in', () => {
  it('is issued by a clerk with a one-time code, redeemed once, audited; not by an operator or an admin', async () => {
    const issued = await s.staff('clerk.wang', 'POST', '/api/customer-logins', {
      account: 'E1-101',
      username: 'stu.carol',
    });
    expect(issued.status).toBe(201);
    expect(String(issued.body.code)).toMatch(/^\d{5}-\d{5}$/);
    for (const who of ['op.sun', 'admin.zhou']) {
      expect(
        (await s.staff(who, 'POST', '/api/customer-logins', { account: 'E1-101', username: 'stu.dave' }))
          .status,
      ).toBe(403);
    }
    const redeem = (code: unknown) =>
      s.customer('', 'POST', '/api/self/redeem', {
        username: 'stu.carol',
        code,
        password: 'a long password',
      });
    expect((await redeem('00000-00000')).body).toMatchObject({ code: 'INVALID_CODE' });
    expect((await redeem(issued.body.code)).status).toBe(200);
    expect((await redeem(issued.body.code)).body).toMatchObject({ code: 'INVALID_CODE' }); // used
    // A name stays with its account: another account cannot take it over.
    const takeover = await s.staff('clerk.wang', 'POST', '/api/customer-logins', {
      account: 'E1-102',
      username: 'stu.carol',
    });
    expect(takeover).toMatchObject({ status: 409, body: { code: 'LOGIN_NAME_TAKEN' } });
    const trail = s.bo.audit.query({ subject: 'customer:stu.carol' }).map((e) => [e.action, e.actor]);
    expect(trail).toEqual([
      ['customer.code-issued', 'clerk.wang'],
      ['customer.password-set', 'customer:stu.carol'],
    ]);
  });

  it('wrong passwords slow that name down from the fifth, audited once', async () => {
    await s.signUp('E1-102', 'stu.eve');
    const wrong = () =>
      s.customer('', 'POST', '/api/self/login', { username: 'stu.eve', password: 'not it at all' });
    for (let i = 0; i < 5; i++) expect((await wrong()).body).toMatchObject({ code: 'LOGIN_FAILED' });
    expect(await wrong()).toMatchObject({ status: 429, body: { code: 'LOGIN_DELAYED' } });
    expect(s.bo.audit.query({ action: 'customer.login-delayed', subject: 'customer:stu.eve' })).toHaveLength(
      1,
    );
  });
});

describe('a customer session reaches its own account and nothing else', () => {
  it('every staff route refuses the customer cookie, the customer token as a staff cookie and as a bearer', async () => {
    const doc = (await s.staff('sup.li', 'GET', '/openapi.json')).body as unknown as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    const token = alice.split('=')[1]!;
    let tried = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!op.security) continue; // public: login, the provider's notice, the customers' own
        const url = path.replace(/\{[^}]+\}/g, '1');
        const body = method === 'get' ? undefined : {};
        for (const cookie of [alice, `ce_session=${token}`]) {
          const r = await s.customer(cookie, method.toUpperCase(), url, body);
          expect(r.status, `${method} ${path} with ${cookie.split('=')[0]}`).toBe(401);
        }
        const bearer = await fetch(s.url + url, {
          method: method.toUpperCase(),
          headers: {
            authorization: `Bearer ${token}`,
            ...(body ? { 'content-type': 'application/json' } : {}),
          },
          ...(body ? { body: '{}' } : {}),
        });
        expect(bearer.status, `${method} ${path} with a bearer`).toBe(401);
        tried++;
      }
    }
    expect(tried).toBeGreaterThan(60);
  });

  it('the self-service routes need the customer cookie (a staff session is not one) and say nothing of other accounts', async () => {
    expect((await s.staff('clerk.wang', 'GET', '/api/self/account')).status).toBe(401);
    expect(
      (await s.customer(`ce_session=${s.tokens['clerk.wang']}`, 'GET', '/api/self/account')).status,
    ).toBe(401);
    expect((await s.customer(alice, 'GET', '/api/self/account')).body).toMatchObject({
      account: 'E1-101',
      username: 'stu.alice',
    });
    expect((await s.customer(bob, 'GET', '/api/self/account')).body).toMatchObject({ account: 'E1-102' });
    // Bob's order, asked for with Alice's session: as if it did not exist.
    const order = await s.customer(bob, 'POST', '/api/self/topups', { amountFen: 1000 });
    expect(order.status).toBe(201);
    expect(await s.customer(alice, 'GET', `/api/self/orders/${order.body.orderNo}`)).toMatchObject({
      status: 404,
      body: { code: 'ORDER_NOT_YOURS' },
    });
    // There is no way to name an account: a query or body naming one is refused by schema.
    expect((await s.customer(alice, 'GET', '/api/self/usage?account=E1-102')).status).toBe(400);
    expect(
      (await s.customer(alice, 'POST', '/api/self/topups', { amountFen: 1000, account: 'E1-102' })).status,
    ).toBe(400);
  });

  it('a change without Origin is refused (cross-site), and a session ends when idle, signed out, or disabled', async () => {
    const noOrigin = await fetch(`${s.url}/api/self/topups`, {
      method: 'POST',
      headers: { cookie: alice, 'content-type': 'application/json' },
      body: '{"amountFen":1000}',
    });
    expect(noOrigin.status).toBe(403);
    const carol = await s.signUp('E1-101', 'stu.frank');
    s.time.skew += 31 * 60_000;
    expect(await s.customer(carol, 'GET', '/api/self/account')).toMatchObject({
      status: 401,
      body: { code: 'CUSTOMER_UNAUTHENTICATED' },
    });
    await s.staffLogin();
    const again = await s.signUp('E1-101', 'stu.frank');
    expect((await s.customer(again, 'POST', '/api/self/logout', {})).status).toBe(200);
    expect((await s.customer(again, 'GET', '/api/self/account')).status).toBe(401);
    const third = await s.signUp('E1-101', 'stu.frank');
    expect((await s.staff('clerk.wang', 'POST', '/api/customer-logins/stu.frank/disable', {})).status).toBe(
      200,
    );
    expect((await s.customer(third, 'GET', '/api/self/account')).status).toBe(401);
    // Alice and Bob signed in before the idle hour: they sign in again for the next tests.
    alice = await s.signUp('E1-101', 'stu.alice');
    bob = await s.signUp('E1-102', 'stu.bob');
  });
});

describe('the customer’s own settings', () => {
  it('changes the password with the current one (other sessions end), and sets where notices go', async () => {
    const first = await s.signUp('E1-102', 'stu.gina', 'gina@example.edu');
    // A second session of the same name (another phone): a plain sign-in, not a new code.
    const again = await fetch(`${s.url}/api/self/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: s.url },
      body: JSON.stringify({ username: 'stu.gina', password: PASSWORD }),
    });
    const second = again.headers.get('set-cookie')!.split(';')[0]!;
    const change = (cookie: string, current: string, password: string) =>
      s.customer(cookie, 'POST', '/api/self/password', { current, password });
    expect(await change(first, 'not the password', 'a brand new one')).toMatchObject({
      status: 401,
      body: { code: 'LOGIN_FAILED' },
    });
    expect(await change(first, PASSWORD, 'short')).toMatchObject({
      status: 400,
      body: { code: 'WEAK_PASSWORD' },
    });
    expect((await change(first, PASSWORD, 'a brand new one')).status).toBe(200);
    expect((await s.customer(first, 'GET', '/api/self/account')).status).toBe(200);
    expect((await s.customer(second, 'GET', '/api/self/account')).status).toBe(401);
    const login = (password: string) =>
      s.customer('', 'POST', '/api/self/login', { username: 'stu.gina', password });
    expect((await login(PASSWORD)).status).toBe(401);
    expect((await login('a brand new one')).status).toBe(200);

    expect(await s.customer(first, 'POST', '/api/self/contact', { email: 'not an address' })).toMatchObject({
      status: 400,
    });
    const set = await s.customer(first, 'POST', '/api/self/contact', {
      email: 'gina@phone.example',
      language: 'en',
    });
    expect(set.body).toEqual({ email: 'gina@phone.example', language: 'en' });
    expect(s.bo.customers.logins.contactsOf('E1-102').find((c) => c.username === 'stu.gina')).toMatchObject({
      email: 'gina@phone.example',
      language: 'en',
    });
    expect((await s.customer(first, 'POST', '/api/self/contact', { email: null })).body).toEqual({
      email: null,
      language: 'en',
    });
    const trail = s.bo.audit.query({ subject: 'customer:stu.gina' }).map((e) => e.action);
    expect(trail).toEqual(expect.arrayContaining(['customer.password-changed', 'customer.contact']));
  });
});

describe('what the customer sees, and top-up', () => {
  it('balance, remaining days at the recent rate, daily and monthly use, the tariff and entries, recomputed here', async () => {
    await s.bo.prepaid.topUp(s.actor('clerk.wang'), {
      account: 'E1-101',
      amountFen: 10_000,
      method: 'cash',
      reference: 'R-E1-101-1',
    });
    // Fourteen local days of use, 2 kWh each, ending yesterday; the debiting job's own identity.
    const day = (d: number) => localTimeToUtc(TZ, 2026, 11, d);
    const intervals = Array.from({ length: 14 }, (_, i) => ({
      meter: 'm-E1-101',
      start: day(17 + i),
      end: day(18 + i),
      value: 2,
      status: 'ok' as const,
    }));
    const debited = s.bo.prepaid.applyConsumption(POLICY_SYSTEM_ACTOR, 'E1-101', intervals).debited;
    expect(debited).toHaveLength(14);
    const spent = -debited.reduce((sum, e) => sum + e.amountFen, 0);
    const me = (await s.customer(alice, 'GET', '/api/self/account')).body;
    expect(me.balanceFen).toBe(10_000 - spent);
    expect(me.dailyRateFen).toBe(Math.round(spent / 14));
    expect(me.remainingDays).toBe(Math.floor((10_000 - spent) / Math.round(spent / 14)));
    expect(me.tariff).toMatchObject({ unit: 'kWh' });
    const use = (await s.customer(alice, 'GET', '/api/self/usage')).body as unknown as {
      daily: { period: string; kwh: number; fen: number }[];
      monthly: { period: string; kwh: number; fen: number }[];
    };
    expect(use.daily).toHaveLength(14);
    expect(use.daily[0]).toMatchObject({ period: '2026-11-17', kwh: 2 });
    expect(use.monthly).toEqual([{ period: '2026-11', kwh: 28, fen: spent }]);
    const list = (await s.customer(alice, 'GET', '/api/self/entries')).body as unknown as {
      type: string;
      amountFen: number;
      recordedBy?: string;
    }[];
    expect(list).toHaveLength(15);
    expect(list.at(-1)).toMatchObject({ type: 'topup', amountFen: 10_000 });
    expect(list.every((e) => e.recordedBy === undefined)).toBe(true);
  });

  it('the notices about the account: a low balance the policy loop raised, without who else got it', async () => {
    await s.openAccount('E1-103');
    const carl = await s.signUp('E1-103', 'stu.carl', 'carl@example.edu');
    await s.bo.prepaid.topUp(s.actor('clerk.wang'), {
      account: 'E1-103',
      amountFen: 300,
      method: 'cash',
      reference: 'R-E1-103-1',
    });
    await s.bo.policy.runOnce();
    await s.bo.customers.notices.kick();
    const seen = (await s.customer(carl, 'GET', '/api/self/notices')).body;
    expect(seen).toEqual([{ at: expect.any(Number), kind: 'low-balance', level: 2, sentBy: [] }]);
    // Bob's room (at 0 fen here) has its own notices, and only those.
    const bobs = (await s.customer(bob, 'GET', '/api/self/notices')).body as unknown as { at: number }[];
    expect(bobs.map((n) => n.at)).toEqual(s.bo.customers.notices.list('E1-102', 20).map((n) => n.at));
    expect(s.bo.customers.notices.list('E1-102').every((n) => n.account === 'E1-102')).toBe(true);
  });

  it('a top-up at the provider: the order, the customer pays on its page, the notice credits the account once', async () => {
    const before = (await s.customer(bob, 'GET', '/api/self/account')).body.balanceFen as number;
    const order = await s.customer(bob, 'POST', '/api/self/topups', { amountFen: 5_000 });
    expect(order.status).toBe(201);
    expect(await s.customer(bob, 'POST', '/api/self/topups', { amountFen: 50 })).toMatchObject({
      status: 400,
      body: { code: 'INVALID_AMOUNT' },
    });
    const paid = await fetch(String(order.body.payUrl), { method: 'POST' });
    expect(paid.status).toBe(200);
    await s.sim.noticesSettled();
    expect((await s.customer(bob, 'GET', `/api/self/orders/${order.body.orderNo}`)).body).toMatchObject({
      status: 'paid',
    });
    expect((await s.customer(bob, 'GET', '/api/self/account')).body.balanceFen).toBe(before + 5_000);
    expect(s.bo.prepaid.ledger('E1-102').filter((e) => e.type === 'topup')).toHaveLength(1);
    expect(s.bo.customers.payments.order(String(order.body.orderNo))).toMatchObject({
      createdBy: 'customer:stu.bob',
    });
  });
});
