import { randomBytes } from 'node:crypto';
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { loadCampus } from '../../config/campus.ts';
import type { Actor, Role } from '../../services/platform/auth/roles.ts';
import { startBackoffice, type RunningBackoffice } from '../../services/backoffice/run.ts';
import { webRoutes } from '../../services/backoffice/web/routes.ts';
import { openStore } from '../../services/metering/open-store.ts';
import { localTimeToUtc } from '../../services/metering/consumption/zone.ts';
import { startPaymentSimulator, type PaymentSimulator } from '../../simulators/payment/server.ts';
import { tempBackoffice, tempCampusFile } from '../audit/helpers.ts';
import { TEST_SCRYPT_COST } from '../auth/setup.ts';
import { testLogger } from '../helpers/logger.ts';

/**
 * The whole back office (HTTP API on loopback, embedded broker, the example campus) with a
 * payment provider in its campus file that is the simulated one, as a real HTTP server. Its clock
 * is the machine's plus a skew the test moves, starting at local noon of a fixed day so that no
 * test depends on when it runs; the provider shares it.
 */

export const PASSWORD = 'correct horse battery staple';
export const TZ = 'Asia/Shanghai';
export const START = localTimeToUtc(TZ, 2026, 12, 1, 12);
export const STAFF: Record<string, Role[]> = {
  'clerk.wang': ['clerk'],
  'sup.li': ['supervisor'],
  'op.sun': ['operator'],
  'admin.zhou': ['admin'],
};

/** A JSON answer as the tests read it: fields looked up by name, checked by expect. */
export type Json = Record<string, unknown> & unknown[];

export interface Stack {
  bo: RunningBackoffice;
  sim: PaymentSimulator;
  url: string;
  time: { skew: number };
  clock: () => number;
  tokens: Record<string, string>;
  actor(name: string): Actor;
  /** Opens and verifies a student room account (clerk opens, supervisor verifies). */
  openAccount(id: string, customerType?: 'student-room' | 'staff-household' | 'business'): Promise<void>;
  /** A staff member's call with their session token. */
  staff(who: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }>;
  /** A customer's call with the customer cookie, from the page's origin. */
  customer(
    cookie: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Json }>;
  /** Issues a sign-in, redeems its code and signs in: the customer cookie. */
  signUp(account: string, username: string, email?: string): Promise<string>;
  /** New staff sessions (after the clock moved past their idle limit). */
  staffLogin(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStack(o: { web?: boolean } = {}): Promise<Stack> {
  const logger = testLogger();
  const { dir, db } = tempBackoffice('unused.sqlite');
  db.close();
  const file = tempCampusFile(dir);
  const time = { skew: START - Date.now() };
  const clock = () => Date.now() + time.skew;
  const key = randomBytes(32);
  writeFileSync(join(dir, 'campus-card.key'), key);
  const sim = await startPaymentSimulator({ key, clock, retryDelaysMs: [0, 200, 500] });
  appendFileSync(
    file,
    `\npayments:\n  providers:\n    - { id: campus-card, method: card, baseUrl: "${sim.url}", keyFile: campus-card.key }\n`,
  );
  const campus = loadCampus(file);
  const broker: EmbeddedBroker = await startEmbeddedBroker();
  const store = await openStore(campus, logger);
  const bo = await startBackoffice({
    campus,
    mqtt: { url: broker.url },
    store,
    logger,
    clock,
    http: { host: '127.0.0.1', port: 0, secureCookie: false },
    detection: false,
    scryptCost: TEST_SCRYPT_COST,
    policyIntervalMs: 3_600_000,
    // The staff web app too, for the clerk's page.
    ...(o.web ? { extraRoutes: (svc: { timezone: string }) => [webRoutes({ timezone: svc.timezone })] } : {}),
  });
  const url = bo.url!;
  const tokens: Record<string, string> = {};
  const actors: Record<string, Actor> = {};
  const staffLogin = async () => {
    for (const who of Object.keys(STAFF)) {
      const s = await bo.users.login(who, PASSWORD, { ip: '127.0.0.1' });
      tokens[who] = s.token;
      actors[who] = s.actor;
    }
  };
  for (const [who, roles] of Object.entries(STAFF)) {
    await bo.users.provisionUser({ username: who, displayName: who, roles, password: PASSWORD });
  }
  await staffLogin();
  const call = async (headers: Record<string, string>, method: string, path: string, body?: unknown) => {
    const r = await fetch(url + path, {
      method,
      headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      redirect: 'manual',
    });
    const text = await r.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON: kept as text */
    }
    return { status: r.status, body: parsed as Json };
  };
  const stack: Stack = {
    bo,
    sim,
    url,
    time,
    clock,
    tokens,
    actor: (name) => actors[name]!,
    staffLogin,
    async openAccount(id, customerType = 'student-room') {
      bo.prepaid.openAccount(actors['clerk.wang']!, {
        id,
        customerType,
        holder: `Holder of ${id} (invented)`,
        meters: [`m-${id}`],
        occupants: 4,
      });
      bo.prepaid.verifyTariffType(actors['sup.li']!, id);
    },
    staff: (who, method, path, body) => call({ authorization: `Bearer ${tokens[who]}` }, method, path, body),
    customer: (cookie, method, path, body) => call({ cookie, origin: url }, method, path, body),
    async signUp(account, username, email) {
      const issued = await stack.staff('clerk.wang', 'POST', '/api/customer-logins', {
        account,
        username,
        ...(email ? { email } : {}),
      });
      if (issued.status !== 201) throw new Error(`issue: ${JSON.stringify(issued.body)}`);
      const redeemed = await call({ origin: url }, 'POST', '/api/self/redeem', {
        username,
        code: issued.body.code,
        password: PASSWORD,
      });
      if (redeemed.status !== 200) throw new Error(`redeem: ${JSON.stringify(redeemed.body)}`);
      const r = await fetch(`${url}/api/self/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: url },
        body: JSON.stringify({ username, password: PASSWORD }),
      });
      if (r.status !== 200) throw new Error(`login: ${await r.text()}`);
      return r.headers.get('set-cookie')!.split(';')[0]!;
    },
    async stop() {
      await bo.stop();
      await store.close?.();
      await sim.close();
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}
