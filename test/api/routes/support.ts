import { expect } from 'vitest';
import { rmSync } from 'node:fs';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApi } from '../../../services/platform/http/app.ts';
import { backofficeRoutes } from '../../../services/backoffice/api-routes.ts';
import type { Role } from '../../../services/platform/auth/roles.ts';
import { Users } from '../../../services/platform/auth/users.ts';
import type { SignedRelayCommand } from '../../../services/operations/control/commands.ts';
import { RelayControl, type MeterLocator } from '../../../services/operations/control/relay-control.ts';
import { Prepaid } from '../../../services/money/prepaid/prepaid.ts';
import { tempBackoffice } from '../../audit/helpers.ts';
import { PASSWORD, TEST_SCRYPT_COST } from '../../auth/setup.ts';
import { testKeys } from '../../control/support.ts';
import { tariffs } from '../../prepaid/support.ts';

export { PASSWORD };

/** The staff of the test back office: user name → roles. */
export const STAFF = {
  clerk: ['clerk'],
  clerk2: ['clerk'],
  supervisor: ['supervisor'],
  supervisor2: ['supervisor'],
  operator: ['operator'],
  operator2: ['operator'],
  reader: ['reader'],
  inspector: ['inspector'],
  /** Clerk and supervisor at once: only the two-person rules stop them approving their own work. */
  lead: ['clerk', 'supervisor'],
} satisfies Record<string, Role[]>;
export type Staff = keyof typeof STAFF | 'admin' | 'admin2';

/** Every `E-…` meter is on the east gateway and has a relay, but `E-…-norelay`. */
const locate: MeterLocator = (meter) =>
  meter.startsWith('E-')
    ? { site: 'east', gateway: 'gw1', hasRelay: !meter.endsWith('-norelay') }
    : undefined;

/**
 * The back-office API on real services and a temp SQLite file: an administrator `admin` and one
 * user per STAFF entry (named `<key>.test`), each logged in with a Bearer token in `tokens`.
 */
export async function apiFixture(options: { secureCookie?: boolean } = {}) {
  const t = tempBackoffice();
  const users = new Users({ db: t.db, audit: t.audit, clock: t.clock, scryptCost: TEST_SCRYPT_COST });
  const prepaid = new Prepaid({ db: t.db, audit: t.audit, tariffs, clock: t.clock });
  const keys = testKeys();
  const sent: SignedRelayCommand[] = [];
  const control = new RelayControl({
    db: t.db,
    audit: t.audit,
    clock: t.clock,
    signingKey: keys.privateKey,
    ackKeys: () => undefined,
    locate,
    send: async (c) => {
      sent.push(c);
    },
  });
  const app = await buildApi({
    auth: users,
    routes: backofficeRoutes({
      users,
      prepaid,
      control,
      audit: t.audit,
      timezone: tariffs.timezone,
      ...(options.secureCookie === undefined ? {} : { secureCookie: options.secureCookie }),
    }),
  });

  await users.bootstrapAdmin('admin', PASSWORD, 'Test Admin');
  const ip = { ip: '10.9.9.9' };
  const tokens = {} as Record<Staff, string>;
  tokens.admin = (await users.login('admin', PASSWORD, ip)).token;
  // User administration takes a second administrator.
  await users.provisionUser({
    username: 'admin2',
    displayName: 'Test Admin 2',
    roles: ['admin'],
    password: PASSWORD,
  });
  tokens.admin2 = (await users.login('admin2', PASSWORD, ip)).token;
  for (const [key, roles] of Object.entries(STAFF)) {
    await users.provisionUser({
      username: `${key}.test`,
      displayName: `Test ${key}`,
      roles,
      password: PASSWORD,
    });
    tokens[key as Staff] = (await users.login(`${key}.test`, PASSWORD, ip)).token;
  }

  /**
   * A request as `who` (a Bearer token), or anonymous. A POST, PUT or PATCH without a payload
   * sends `{}`, as the web app does: the server takes only JSON bodies.
   */
  const call = (
    who: Staff | null,
    method: InjectOptions['method'],
    url: string,
    payload?: object,
    headers: Record<string, string> = {},
  ): Promise<LightMyRequestResponse> =>
    app.inject({
      method,
      url,
      payload: payload ?? (['POST', 'PUT', 'PATCH'].includes(String(method)) ? {} : undefined),
      headers: who ? { authorization: `Bearer ${tokens[who]}`, ...headers } : headers,
    });

  const close = async () => {
    await app.close();
    t.db.close();
    rmSync(t.dir, { recursive: true, force: true });
  };
  return { ...t, app: app as FastifyInstance, users, prepaid, control, keys, sent, tokens, call, close };
}
export type ApiFixture = Awaited<ReturnType<typeof apiFixture>>;

/** The user name of a test staff member. */
export const nameOf = (who: Staff): string => (who === 'admin' || who === 'admin2' ? who : `${who}.test`);

/**
 * The insider's way to an account: one administrator's proposal (a new user, a password reset) is
 * approved by the gullible second administrator, and the one-time code reaches the insider, who
 * sets `password` and logs in. Returns the account's session token.
 */
export async function takeOverAccount(
  f: ApiFixture,
  proposal: LightMyRequestResponse,
  username: string,
  password: string,
): Promise<string> {
  expect(proposal.statusCode, proposal.body).toBe(202);
  const ok = await f.call('admin2', 'POST', `/api/user-requests/${proposal.json().id}/approve`);
  expect(ok.statusCode, ok.body).toBe(200);
  const code = ok.json().oneTimeCode.code as string;
  const redeem = await f.app.inject({
    method: 'POST',
    url: '/api/password/redeem',
    payload: { username, code, password },
  });
  expect(redeem.statusCode, redeem.body).toBe(204);
  const login = await f.app.inject({ method: 'POST', url: '/api/session', payload: { username, password } });
  expect(login.statusCode, login.body).toBe(201);
  return login.json().token as string;
}
