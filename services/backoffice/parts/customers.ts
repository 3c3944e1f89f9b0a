import { readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { LoadedCampus } from '../../../config/campus.ts';
import type { PaymentProviderSettings } from '../../../config/schemas/self-service.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { everyInterval } from '../../platform/timers.ts';
import { localTimeToUtc, wallClock } from '../../metering/consumption/zone.ts';
import {
  createSignedHttpProvider,
  paymentRoutes,
  Payments,
  type PaymentProvider,
} from '../../money/payments/index.ts';
import type { Prepaid } from '../../money/prepaid/index.ts';
import type { TariffTable } from '../../money/billing/tariffs.ts';
import { CustomerLogins, selfServiceRoutes } from '../../money/selfservice/index.ts';
import {
  emailNotifier,
  mqttNotifier,
  noticeRoutes,
  Notices,
  webhookNotifier,
  type Notifier,
} from '../../money/notices/index.ts';
import type { RouteFn } from './api.ts';

/**
 * The customers' side of the back office: their own sign-in and self-service page (/self/), self
 * top-up through the campus file's payment providers, with its timer — open orders queried,
 * yesterday's statements reconciled once a day from `payments.reconcileAt` on. One failing
 * provider is logged and the timer goes on.
 */

export interface CustomerSideDeps {
  campus: LoadedCampus;
  db: BackofficeDb;
  audit: AuditLog;
  prepaid: Prepaid;
  clock: Clock;
  logger: Logger;
  /** The tariffs in force (the customer sees the electricity tariff of the account's type). */
  tariffs: TariffTable;
  /** scrypt N for customers' passwords (tests pass a low one). */
  scryptCost?: number;
  secureCookie?: boolean;
  /** Publishes on the back office's broker (notices on MQTT, when the campus file names a topic). */
  publish?: (topic: string, payload: string) => Promise<void>;
}

export interface CustomerSide {
  payments: Payments;
  logins: CustomerLogins;
  notices: Notices;
  routes: RouteFn[];
  /** The API's own URL, where notices go unless the campus file names a public one. */
  setApiUrl(url: string): void;
  /** One round of the timer now: query open orders, reconcile what is due. */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

/** A provider from its campus-file entry; the merchant key is read from its file here, once. */
export function providerFromSettings(
  p: PaymentProviderSettings,
  campusFile: string,
  clock: Clock,
): PaymentProvider {
  const file = resolve(dirname(campusFile), p.keyFile);
  let key: Buffer;
  try {
    key = readFileSync(file);
  } catch (err) {
    throw new Error(`payments.providers ${p.id}: cannot read keyFile ${file}: ${(err as Error).message}`);
  }
  if (key.length < 32)
    throw new Error(`payments.providers ${p.id}: keyFile ${file} holds ${key.length} bytes; at least 32`);
  return createSignedHttpProvider({ id: p.id, method: p.method, baseUrl: p.baseUrl, key, clock });
}

/** The payments service over the campus file's providers; `settings.publicUrl` is set once the API listens. */
function createPayments(d: CustomerSideDeps) {
  const cfg = d.campus.config.payments;
  const providers = cfg.providers.map((p) => providerFromSettings(p, d.campus.file, d.clock));
  const settings = {
    publicUrl: cfg.publicUrl ?? 'http://127.0.0.1',
    noticeMaxAgeMs: cfg.noticeMaxAge * 1000,
    queryAfterMs: cfg.queryAfter * 1000,
    orderTtlMs: cfg.orderTtl * 1000,
    minTopUpFen: cfg.minTopUpFen,
    maxTopUpFen: cfg.maxTopUpFen,
  };
  const payments = new Payments({
    ...{ db: d.db, audit: d.audit, prepaid: d.prepaid, providers, settings },
    ...{ timezone: d.campus.config.campus.timezone, clock: d.clock },
  });
  return { payments, providers, settings };
}

/** One round of the payments timer: open orders queried, then yesterday reconciled if due. */
function paymentRound(
  d: CustomerSideDeps,
  payments: Payments,
  providers: readonly PaymentProvider[],
  log: Logger,
) {
  const cfg = d.campus.config.payments;
  const timezone = d.campus.config.campus.timezone;
  async function reconcileDue(): Promise<void> {
    const now = d.clock();
    const w = wallClock(now, timezone);
    const [h, m] = cfg.reconcileAt.split(':').map(Number) as [number, number];
    if (now < localTimeToUtc(timezone, w.year, w.month, w.day, h, m)) return;
    const y = wallClock(localTimeToUtc(timezone, w.year, w.month, w.day - 1, 12), timezone);
    const date = `${y.year}-${String(y.month).padStart(2, '0')}-${String(y.day).padStart(2, '0')}`;
    for (const p of providers) {
      const done = d.db
        .prepare('SELECT 1 FROM payment_reconciliations WHERE provider = ? AND date = ?')
        .get(p.id, date);
      if (done) continue;
      try {
        const r = await payments.reconcile('system:payments', p.id, date);
        log.info({ provider: p.id, date, mismatches: r.mismatches.length }, 'statement reconciled');
      } catch (err) {
        log.error({ provider: p.id, date, err }, 'reconciliation failed; tried again at the next round');
      }
    }
  }
  return async (): Promise<void> => {
    if (providers.length === 0) return;
    for (const r of await payments.sweep()) {
      if (r.outcome.startsWith('error')) log.warn(r, 'payment order query failed');
      else if (r.outcome !== 'pending') log.info(r, 'payment order settled by query');
    }
    await reconcileDue();
  };
}

/** Customers' sign-in and what they see of their account. */
function createSelfService(d: CustomerSideDeps, payments: Payments, log: Logger) {
  const self = d.campus.config.selfService;
  const logins = new CustomerLogins({
    ...{ db: d.db, audit: d.audit, prepaid: d.prepaid, clock: d.clock },
    codeTtlMs: self.codeTtl * 1000,
    sessionIdleMs: self.sessionIdle * 1000,
    sessionMaxMs: self.sessionMax * 1000,
    ...(d.scryptCost !== undefined ? { scryptCost: d.scryptCost } : {}),
  });
  const notices = createNotices(d, logins, log);
  const routes = selfServiceRoutes({
    ...{ db: d.db, prepaid: d.prepaid, tariffs: () => d.tariffs, clock: d.clock },
    ...{ timezone: d.campus.config.campus.timezone, recentDays: self.recentDays },
    ...{ logins, payments, notices, secureCookie: d.secureCookie ?? true },
  });
  return { logins, notices, routes };
}

/** A secret file named in the campus file, relative to it. */
function secret(campusFile: string, file: string, what: string): Buffer {
  const path = resolve(dirname(campusFile), file);
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${what}: cannot read ${path}: ${(err as Error).message}`);
  }
}

/**
 * The campus file's email and webhook channels (new instances each call): customer notices use
 * them, and so do planned-outage notices (parts/operations-desk.ts).
 */
export function noticeChannels(d: Pick<CustomerSideDeps, 'campus' | 'clock'>): Notifier[] {
  const cfg = d.campus.config.notices;
  const notifiers: Notifier[] = [];
  if (cfg.email) {
    const { passwordFile, username, ...smtp } = cfg.email;
    const password = passwordFile
      ? secret(d.campus.file, passwordFile, 'notices.email.passwordFile').toString('utf8').trim()
      : undefined;
    notifiers.push(
      emailNotifier({ ...smtp, ...(username ? { username } : {}), ...(password ? { password } : {}) }),
    );
  }
  if (cfg.webhook) {
    const key = secret(d.campus.file, cfg.webhook.secretFile, 'notices.webhook.secretFile');
    notifiers.push(webhookNotifier({ url: cfg.webhook.url, key, clock: d.clock }));
  }
  return notifiers;
}

/** Notices to customers over the campus file's channels, read from the audit log as it grows. */
function createNotices(d: CustomerSideDeps, logins: CustomerLogins, log: Logger): Notices {
  const cfg = d.campus.config.notices;
  const notifiers = noticeChannels(d);
  if (cfg.mqttTopic && d.publish) notifiers.push(mqttNotifier({ topic: cfg.mqttTopic, publish: d.publish }));
  return new Notices({
    ...{ db: d.db, audit: d.audit, notifiers, timezone: d.campus.config.campus.timezone, clock: d.clock },
    contacts: (account) => logins.contactsOf(account),
    retries: cfg.retries,
    onFailed: (f) => log.warn(f, 'notice not delivered after its retries'),
    onError: (err) => log.error({ err }, 'notices round failed; the next one tries again'),
  });
}

export function createCustomerSide(d: CustomerSideDeps): CustomerSide {
  const log = d.logger.child({ component: 'payments' });
  const { payments, providers, settings } = createPayments(d);
  const tick = paymentRound(d, payments, providers, log);
  const rounds = everyInterval('payments round', d.campus.config.payments.sweepInterval * 1000, tick, log);
  const { logins, notices, routes } = createSelfService(
    d,
    payments,
    d.logger.child({ component: 'notices' }),
  );
  // Deliveries refused earlier are tried again on the payments timer's beat.
  const retry = everyInterval('self-service notice retries', 30_000, () => notices.kick(), log);
  void retry.runNow();
  return {
    payments,
    logins,
    notices,
    routes: [...paymentRoutes(payments), ...routes, ...noticeRoutes(notices), selfPage()],
    setApiUrl: (url) => {
      if (d.campus.config.payments.publicUrl === null) settings.publicUrl = url;
    },
    tick,
    stop: async () => {
      await Promise.all([rounds.stop(), retry.stop()]);
      await notices.close();
    },
  };
}

const SELF_DIR = fileURLToPath(new URL('../web/public/self/', import.meta.url));
const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};
/** As strict as the staff app's: scripts and styles from here only, no framing. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The customers' page: the files directly in web/public/self, by name only (no path from the request). */
function selfPage(): RouteFn {
  const files = new Map(
    readdirSync(SELF_DIR, { withFileTypes: true })
      .filter((e) => e.isFile() && TYPES[extname(e.name)])
      .map((e) => [e.name, join(SELF_DIR, e.name)]),
  );
  return (app) => {
    const hidden = { schema: { hide: true } };
    app.get('/self', hidden, (_req, reply) => reply.redirect('/self/'));
    const serve = (name: string, reply: FastifyReply) => {
      const file = files.get(name);
      if (!file) return reply.code(404).send({ code: 'NOT_FOUND', message: `no file ${name.slice(0, 64)}` });
      return reply
        .header('content-type', TYPES[extname(name)]!)
        .header('cache-control', 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', CSP)
        .header('referrer-policy', 'no-referrer')
        .send(readFileSync(file));
    };
    app.get('/self/', hidden, (_req, reply) => serve('index.html', reply));
    app.get<{ Params: { name: string } }>('/self/:name', hidden, (req, reply) =>
      serve(req.params.name, reply),
    );
  };
}
