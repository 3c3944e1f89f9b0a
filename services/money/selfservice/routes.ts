import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import { Id, Text } from '../../platform/http/schemas.ts';
import { ServiceError } from '../../platform/errors.ts';
import { inputProblems } from '../../platform/input-problems.ts';
import type { Payments } from '../payments/payments.ts';
import { refuseSelf } from './errors.ts';
import type { Customer, CustomerLogins } from './logins.ts';
import { entries, summary, usage, type ViewDeps } from './view.ts';

/** The customer's session cookie: not the staff one, and sent by browsers only to /api/self. */
export const CUSTOMER_COOKIE = 'ce_customer';
const COOKIE_PATH = '/api/self';
const tags = ['self-service'];

export interface SelfServiceRouteDeps extends ViewDeps {
  logins: CustomerLogins;
  payments: Payments;
  /** Mark the cookie Secure (HTTPS only); true unless given. */
  secureCookie?: boolean;
  /** The notices sent to an account (low balance, cut-off ahead, restored), newest first. */
  notices?: {
    list(
      account: string,
      limit?: number,
    ): {
      at: number;
      kind: string;
      level: number | null;
      deliveries: { channel: string; status: string }[];
    }[];
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    customer?: Customer;
  }
}

function customerToken(req: FastifyRequest): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === CUSTOMER_COOKIE) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

function cookie(value: string, secure: boolean, clear = false): string {
  const parts = [
    `${CUSTOMER_COOKIE}=${encodeURIComponent(value)}`,
    `Path=${COOKIE_PATH}`,
    'HttpOnly',
    'SameSite=Strict',
  ];
  if (secure) parts.push('Secure');
  if (clear) parts.push('Max-Age=0');
  return parts.join('; ');
}

/**
 * Parses a customer route's input with zod, naming what is wrong as every other route does.
 */
function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  throw new ServiceError('INVALID_REQUEST', 400, inputProblems(r.error, where));
}

/**
 * The customer's routes, under /api/self, in a scope of their own: a hook there establishes the
 * customer from the customer cookie (never from the staff cookie or a bearer token) and every
 * handler reads only that customer's account. They carry no staff permission, so the staff hook
 * lets them through to this one; and no staff route accepts the customer cookie. A browser
 * request that changes anything must say it comes from this site (the staff hook checks the
 * Origin when present; this one requires it or Sec-Fetch-Site when the customer cookie is sent).
 */
export function selfServiceRoutes(d: SelfServiceRouteDeps): ((app: FastifyInstance) => void)[] {
  const secure = d.secureCookie ?? true;
  const open = (app: FastifyInstance) => {
    app.post(
      '/api/self/login',
      { schema: { summary: 'Customer sign-in: sets the customer cookie', tags } },
      async (req, reply) => {
        const b = parse(
          z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(200) }).strict(),
          req.body,
          'body',
        );
        const s = await d.logins.login(b.username, b.password, req.ip);
        reply.header('set-cookie', cookie(s.token, secure));
        return { account: s.customer.account, username: s.customer.username, language: s.customer.language };
      },
    );
    app.post(
      '/api/self/redeem',
      { schema: { summary: 'Set the password with the one-time code from the business office', tags } },
      async (req) => {
        const b = parse(
          z
            .object({
              username: z.string().min(1).max(64),
              code: z.string().min(1).max(32),
              password: z.string().max(200),
            })
            .strict(),
          req.body,
          'body',
        );
        await d.logins.redeem(b.username, b.code, b.password);
        return { ok: true };
      },
    );
    app.post('/api/self/logout', { schema: { summary: 'Customer sign-out', tags } }, async (req, reply) => {
      const token = customerToken(req);
      if (token) d.logins.logout(token);
      reply.header('set-cookie', cookie('', secure, true));
      return { ok: true };
    });
  };
  const signedIn = (app: FastifyInstance) => {
    app.addHook('onRequest', async (req) => {
      const token = customerToken(req);
      if (!token) refuseSelf('CUSTOMER_UNAUTHENTICATED', 'sign in first (no customer session)');
      if (
        req.method !== 'GET' &&
        req.headers.origin === undefined &&
        req.headers['sec-fetch-site'] !== 'same-origin'
      ) {
        throw new ServiceError(
          'CROSS_SITE_REQUEST',
          403,
          'a browser request with a session must say where it comes from (Origin)',
        );
      }
      req.customer = d.logins.authenticate(token);
    });
    const me = (req: FastifyRequest): Customer => req.customer!;
    app.get(
      '/api/self/account',
      { schema: { summary: 'Balance, remaining days, tariff', tags } },
      async (req) => ({
        ...summary(d, me(req).account),
        username: me(req).username,
        language: me(req).language,
        email: me(req).email,
      }),
    );
    app.get(
      '/api/self/usage',
      { schema: { summary: 'Consumption per day and per month', tags } },
      async (req) => {
        const q = parse(
          z.object({ days: z.coerce.number().int().min(1).max(92).optional() }).strict(),
          req.query,
          'query',
        );
        return usage(d, me(req).account, q.days);
      },
    );
    app.get(
      '/api/self/entries',
      { schema: { summary: 'Top-ups and debits, newest first', tags } },
      async (req) => entries(d, me(req).account),
    );
    app.post(
      '/api/self/topups',
      { schema: { summary: 'Top up: an order at the provider, paid on its page', tags } },
      async (req, reply: FastifyReply) => {
        const b = parse(
          z.object({ amountFen: z.number().int(), provider: Id.optional() }).strict(),
          req.body,
          'body',
        );
        const o = await d.payments.createOrder(`customer:${me(req).username}`, {
          account: me(req).account,
          ...b,
        });
        reply.code(201);
        return {
          orderNo: o.orderNo,
          amountFen: o.amountFen,
          payUrl: o.payUrl,
          expiresAt: o.expiresAt,
          status: o.status,
        };
      },
    );
    app.get<{ Params: { orderNo: string } }>(
      '/api/self/orders/:orderNo',
      { schema: { summary: 'One of your top-up orders', tags } },
      async (req) => {
        const o = d.payments
          .orders({ account: me(req).account })
          .find((x) => x.orderNo === req.params.orderNo);
        if (!o)
          refuseSelf('ORDER_NOT_YOURS', `no top-up order ${req.params.orderNo.slice(0, 64)} on your account`);
        return {
          orderNo: o.orderNo,
          amountFen: o.amountFen,
          status: o.status,
          createdAt: o.createdAt,
          paidAt: o.paidAt,
        };
      },
    );
    app.get(
      '/api/self/notices',
      { schema: { summary: 'The notices sent about your account', tags } },
      async (req) =>
        (d.notices?.list(me(req).account, 20) ?? []).map((n) => ({
          at: n.at,
          kind: n.kind,
          level: n.level,
          // Which ways it went out; not to whom (a room's other customers are not yours to see).
          sentBy: [...new Set(n.deliveries.filter((x) => x.status === 'sent').map((x) => x.channel))],
        })),
    );
    app.post(
      '/api/self/password',
      { schema: { summary: 'Change your password (your other sessions end)', tags } },
      async (req) => {
        const b = parse(
          z.object({ current: z.string().min(1).max(200), password: z.string().max(200) }).strict(),
          req.body,
          'body',
        );
        await d.logins.changePassword(customerToken(req)!, b.current, b.password);
        return { ok: true };
      },
    );
    app.post(
      '/api/self/contact',
      { schema: { summary: 'Where your notices go (e-mail, or none) and in which language', tags } },
      async (req) => {
        const b = parse(
          z
            .object({
              email: z.email().max(200).nullable().optional(),
              language: z.enum(['zh', 'en']).optional(),
            })
            .strict(),
          req.body,
          'body',
        );
        const c = d.logins.setContact(me(req), b);
        return { email: c.email, language: c.language };
      },
    );
    app.get(
      '/api/self/orders',
      { schema: { summary: 'Your top-up orders, newest first', tags } },
      async (req) =>
        d.payments.orders({ account: me(req).account, limit: 50 }).map((o) => ({
          orderNo: o.orderNo,
          amountFen: o.amountFen,
          status: o.status,
          createdAt: o.createdAt,
          paidAt: o.paidAt,
        })),
    );
  };
  return [open, signedIn, ...staffRoutes(d)];
}

/** The business office's side: issue a sign-in code for an account, list and disable sign-ins. */
function staffRoutes(d: SelfServiceRouteDeps): ((app: FastifyInstance) => void)[] {
  const staffTags = ['prepaid'];
  return [
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/customer-logins',
        summary: "Issue a customer's sign-in for an account: a one-time code, shown once (audited)",
        tags: staffTags,
        permission: 'accounts.open',
        body: z
          .object({
            account: Id,
            username: z.string().min(3).max(64),
            email: z.email().max(200).optional(),
            language: z.enum(['zh', 'en']).optional(),
          })
          .strict(),
        status: 201,
        handler: ({ body, actor }) => d.logins.issueCode(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/customer-logins',
        summary: "An account's customer sign-ins",
        tags: staffTags,
        permission: 'accounts.view',
        query: z.object({ account: Id }).strict(),
        handler: ({ query }) => d.logins.loginsOf(query.account),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/customer-logins/:username/disable',
        summary: "End a customer's sign-in and sessions (audited)",
        tags: staffTags,
        permission: 'accounts.open',
        params: z.object({ username: z.string().min(1).max(64) }).strict(),
        body: z.object({ reason: Text.optional() }).strict().optional(),
        handler: ({ params, actor }) => {
          d.logins.disable(actor, params.username);
          return { ok: true };
        },
      }),
  ];
}
