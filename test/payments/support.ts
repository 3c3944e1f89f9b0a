import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import type { Role } from '../../services/platform/auth/roles.ts';
import { Users } from '../../services/platform/auth/users.ts';
import { openBackofficeDb, type BackofficeDb } from '../../services/platform/db.ts';
import { buildApi } from '../../services/platform/http/app.ts';
import { Prepaid } from '../../services/money/prepaid/prepaid.ts';
import {
  createSignedHttpProvider,
  paymentRoutes,
  Payments,
  type PaymentsSettings,
} from '../../services/money/payments/index.ts';
import { startPaymentSimulator, type PaymentSimulator } from '../../simulators/payment/server.ts';
import { PASSWORD, TEST_SCRYPT_COST } from '../auth/setup.ts';
import { freePort } from '../helpers/ports.ts';
import { openVerified, tariffs } from '../prepaid/support.ts';

/**
 * A back office's payment side on a database file, with the simulated provider as a real HTTP
 * server on loopback and the notice route listening on a real port. The clock is the machine's
 * plus a skew the test moves (the provider and the back office share it, as two servers with
 * synchronised clocks do). `restart()` is a crash: the API and the database are dropped without
 * any shutdown step, and opened again from the file.
 */

export const SETTINGS: Omit<PaymentsSettings, 'publicUrl'> = {
  noticeMaxAgeMs: 5 * 60_000,
  queryAfterMs: 60_000,
  orderTtlMs: 15 * 60_000,
  minTopUpFen: 100,
  maxTopUpFen: 100_000,
};

export interface Backoffice {
  db: BackofficeDb;
  audit: AuditLog;
  prepaid: Prepaid;
  payments: Payments;
  users: Users;
  app: FastifyInstance;
  url: string;
}

export async function paymentHarness(o: { staff?: Record<string, Role[]>; accounts?: string[] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'campus-pay-'));
  const path = join(dir, 'backoffice.sqlite');
  const time = { skew: 0 };
  const clock = () => Date.now() + time.skew;
  const key = randomBytes(32);
  const simOptions = { key, clock, retryDelaysMs: [0, 100, 300] };
  let sim: PaymentSimulator = await startPaymentSimulator(simOptions);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;

  async function open(): Promise<Backoffice> {
    const db = openBackofficeDb(path);
    const audit = new AuditLog(db, clock);
    const prepaid = new Prepaid({ db, audit, tariffs, clock });
    const provider = createSignedHttpProvider({
      id: 'campus-card',
      method: 'card',
      baseUrl: sim.url,
      key,
      clock,
    });
    const payments = new Payments({
      db,
      audit,
      prepaid,
      providers: [provider],
      settings: { ...SETTINGS, publicUrl: url },
      timezone: tariffs.timezone,
      clock,
    });
    const users = new Users({ db, audit, clock, scryptCost: TEST_SCRYPT_COST });
    const app = await buildApi({
      auth: users,
      routes: paymentRoutes(payments),
    });
    await app.listen({ host: '127.0.0.1', port });
    return { db, audit, prepaid, payments, users, app, url };
  }

  let bo = await open();
  for (const id of o.accounts ?? ['E1-101', 'E1-102']) openVerified(bo.prepaid, id);
  const tokens: Record<string, string> = {};
  for (const [who, roles] of Object.entries(o.staff ?? {})) {
    await bo.users.provisionUser({ username: who, displayName: who, roles, password: PASSWORD });
    tokens[who] = (await bo.users.login(who, PASSWORD, { ip: '10.0.0.1' })).token;
  }
  return {
    key,
    get sim() {
      return sim;
    },
    /** The provider goes down (`down`) and comes back at the same address. */
    async providerOutage(down: () => Promise<void>) {
      const port = Number(new URL(sim.url).port);
      await sim.close();
      await down();
      sim = await startPaymentSimulator({ ...simOptions, port });
    },
    time,
    tokens,
    get bo() {
      return bo;
    },
    /** The process dies: nothing is closed in order, then it starts again from the file. */
    async crash(whileDown: () => Promise<void> = async () => {}) {
      await bo.app.close();
      bo.db.close();
      await whileDown();
      bo = await open();
    },
    async close() {
      await bo.app.close();
      bo.db.close();
      await sim.close();
    },
  };
}

/** Posts a notice as the provider would (or as an attacker does): exact headers and body. */
export async function postNotice(url: string, headers: Record<string, string>, body: string) {
  const r = await fetch(`${url}/api/payments/notify/campus-card`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: r.status, body: (await r.json()) as { code: string; reason?: string } };
}
