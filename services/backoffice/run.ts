import type { MqttConnection } from '../../adapters/mqtt/connection.ts';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { LoadedCampus } from '../../config/campus.ts';
import { buildApi } from '../platform/http/app.ts';
import { backofficeRoutes, type BackofficeServices } from './api-routes.ts';
import { AuditLog } from '../platform/audit/audit-log.ts';
import { startHeadPublisher } from '../platform/audit/head-publisher.ts';
import { backofficePath } from '../platform/audit/paths.ts';
import { Users } from '../platform/auth/users.ts';
import { parseTariffTable, type TariffTable } from '../money/billing/tariffs.ts';
import { loadSigningKey } from '../operations/control/commands.ts';
import { ensureControlKeys } from '../operations/control/keys.ts';
import { connectControlMqtt } from '../operations/control/mqtt.ts';
import { campusMeterLocator, RelayControl } from '../operations/control/relay-control.ts';
import { ServiceError } from '../platform/errors.ts';
import { Prepaid, type FreeQuotaRule, type PolicyInput } from '../money/prepaid/index.ts';
import type { ReadingStore } from '../metering/storage.ts';
import { openBackofficeDb, type BackofficeDb, type Clock } from '../platform/db.ts';
import { AlertStore } from '../inspection/detection/alerts.ts';
import { alertRoutes, startDetection, type RunningDetection } from '../inspection/detection/service.ts';
import { detect } from '../inspection/detection/engine.ts';
import {
  IllegalLoadTripPolicy,
  illegalLoadDetector,
  type TripPolicyInput,
} from '../inspection/detection/illegal-load.ts';
import { heatingDetector } from '../inspection/detection/heating.ts';
import type { DetectionResult, HeatingRegistration } from '../inspection/detection/types.ts';
import type { Vee } from '../metering/vee/service.ts';
import { campusVee } from '../metering/vee/campus.ts';
import { veeRoutes } from '../metering/vee/routes.ts';
import { BillRuns } from '../money/billing/bill-run.ts';
import { InvoiceChecks, type SupplyPointInput } from '../money/billing/invoice-check.ts';
import { billingRoutes } from '../money/billing/routes.ts';
import { loadBillingAccounts, type BillingAccount } from '../money/billing/accounts.ts';
import { ManualReadings, type ReadingRoute } from '../metering/readings/manual.ts';
import { readingsRoutes } from '../metering/readings/routes.ts';
import { startPolicyLoop, type PolicyLoop } from './policy-loop.ts';

/**
 * The back office as one process: its database, the audit log and its published chain head,
 * users, prepaid accounts, relay control with its MQTT link to the gateways, the prepaid policy
 * loop, and (unless `http: false`) the HTTP API.
 */

export const DEFAULT_TARIFFS_FILE = fileURLToPath(
  new URL('../money/billing/tariffs.example.json', import.meta.url),
);

export interface BackofficeOptions {
  campus: LoadedCampus;
  /** The control service's broker login (`svc/control` where the broker has an ACL). */
  mqtt: MqttConnection;
  /** The reading store consumption is debited from (the one ingest writes). */
  store: ReadingStore;
  logger: Logger;
  clock?: Clock;
  /**
   * Where the API listens; default 127.0.0.1:8080; false: no HTTP API. `secureCookie: false` lets
   * a browser keep its session cookie over plain HTTP (only behind a TLS-terminating proxy or on
   * loopback); bearer tokens work either way.
   */
  http?: { host: string; port: number; secureCookie?: boolean } | false;
  /** How often the prepaid policy runs (default 60 s). */
  policyIntervalMs?: number;
  /** The tariff table (JSON); default the example table shipped with the code. */
  tariffsFile?: string;
  /** Low-balance levels and friendly hours; the time zone defaults to the tariff table's. */
  policy?: PolicyInput;
  freeQuotaRules?: readonly FreeQuotaRule[];
  /**
   * The first administrator, created only while there is no user at all; afterwards ignored.
   * Comes from the environment of whoever starts the process, never from a file.
   */
  bootstrapAdmin?: { username: string; password: string; displayName?: string };
  /** scrypt N for new password hashes (tests pass a low one). */
  scryptCost?: number;
  /** How often the audit chain head is republished (default 60 s; also after each change). */
  auditHeadIntervalMs?: number;
  /** How often relay commands without an ack are looked for (default 10 s). */
  timeoutSweepMs?: number;
  /** Post-paid accounts (YAML); default `billing-accounts.yaml` next to the campus file, if present. */
  billingAccountsFile?: string;
  /** Utility supply points for the invoice check (main meter, meters billed below it, prices). */
  supplyPoints?: readonly SupplyPointInput[];
  /** Routes of meters read by hand. */
  readingRoutes?: readonly ReadingRoute[];
  /**
   * The detection service: how often it runs and how much history it reads (default every 5 min
   * over 2 days); false: no detection. Heating registrations come from the heating desk.
   */
  detection?:
    | {
        intervalMs?: number;
        windowMs?: number;
        heating?: () => readonly HeatingRegistration[];
        /**
         * Automatic trip of rooms with an illegal load (off unless `autoTrip: true`): requests
         * through relay control like the prepaid policy's, never a direct relay write; they wait
         * for a supervisor or a standing policy approval.
         */
        trip?: TripPolicyInput;
      }
    | false;
  /** More routes served by the same API (the live view, the web app), given the services. */
  extraRoutes?: (services: RunningServices) => ((app: FastifyInstance) => void)[];
}

/** Every back-office service, for routes added by other modules. */
export interface RunningServices extends BackofficeServices {
  db: BackofficeDb;
  alerts: AlertStore;
  vee: Vee;
  billRuns: BillRuns;
  invoices: InvoiceChecks;
  readings: ManualReadings;
  campus: LoadedCampus;
  store: ReadingStore;
  /** Absent when detection is off. */
  detection?: RunningDetection;
}

export interface RunningBackoffice extends Omit<RunningServices, 'secureCookie'> {
  policy: PolicyLoop;
  app?: FastifyInstance;
  /** The API's base URL, when it listens. */
  url?: string;
  stop(): Promise<void>;
}

export const DEFAULT_HTTP: { host: string; port: number; secureCookie?: boolean } = {
  host: '127.0.0.1',
  port: 8080,
};

export function loadTariffs(file: string): TariffTable {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`tariff table ${file}: ${(err as Error).message}`);
  }
  try {
    return parseTariffTable(raw);
  } catch (err) {
    throw new Error(`tariff table ${file}: ${(err as Error).message}`);
  }
}

export async function startBackoffice(options: BackofficeOptions): Promise<RunningBackoffice> {
  const { campus, logger } = options;
  const log = logger.child({ component: 'backoffice' });
  const clock = options.clock ?? Date.now;
  // Whatever has started is stopped again, newest first, if a later step fails.
  const cleanups: (() => Promise<void> | void)[] = [];
  const unwind = async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        log.error({ err }, 'stopping a back-office part failed');
      }
    }
  };

  try {
    const tariffs = loadTariffs(options.tariffsFile ?? DEFAULT_TARIFFS_FILE);
    const keys = ensureControlKeys(campus);
    if (keys.created) {
      log.warn(
        { publicKeyFile: keys.publicKeyFile },
        'relay command key pair created: give every gateway the public key',
      );
    }
    const signingKey = loadSigningKey({ file: keys.privateKeyFile });

    mkdirSync(campus.dataDir, { recursive: true });
    const db = openBackofficeDb(backofficePath(campus));
    cleanups.push(() => {
      db.close();
    });
    const audit = new AuditLog(db, clock);
    const users = new Users({
      db,
      audit,
      clock,
      ...(options.scryptCost !== undefined ? { scryptCost: options.scryptCost } : {}),
    });
    if (options.bootstrapAdmin) {
      const b = options.bootstrapAdmin;
      try {
        await users.bootstrapAdmin(b.username, b.password, b.displayName);
        log.info({ username: b.username }, 'first administrator created');
      } catch (err) {
        if (!(err instanceof ServiceError && err.code === 'ALREADY_BOOTSTRAPPED')) throw err;
        log.info('users exist: the bootstrap administrator is ignored');
      }
    }
    const prepaid = new Prepaid({
      db,
      audit,
      tariffs,
      clock,
      ...(options.policy ? { policy: options.policy } : {}),
      ...(options.freeQuotaRules ? { freeQuotaRules: options.freeQuotaRules } : {}),
    });

    const link = await connectControlMqtt({
      url: options.mqtt.url,
      username: options.mqtt.username,
      password: options.mqtt.password,
      ...(options.mqtt.ca ? { ca: options.mqtt.ca } : {}),
      logger,
    });
    cleanups.push(() => link.close());
    const locate = campusMeterLocator(campus);
    const control = new RelayControl({
      db,
      audit,
      clock,
      send: link.send,
      signingKey,
      locate,
      commandTtlMs: campus.config.control.commandTtl,
    });
    link.onAck((topic, payload) => control.handleAck(topic, payload));
    cleanups.push(control.startTimeoutSweep(options.timeoutSweepMs));

    const headLog = logger.child({ component: 'audit-head' });
    const head = startHeadPublisher({
      audit,
      clock,
      intervalMs: options.auditHeadIntervalMs ?? 60_000,
      publish: async (topic, payload, opts) => {
        await link.client.publishAsync(topic, payload, opts);
      },
      onError: (err) => headLog.warn({ err }, 'audit head not published; retrying'),
    });
    cleanups.push(() => head.stop());
    // A new head goes out soon after each change, once per burst of entries.
    let headDue = false;
    const unlisten = audit.onAppend(() => {
      if (headDue) return;
      headDue = true;
      setTimeout(() => {
        headDue = false;
        void head.publishNow();
      }, 100).unref();
    });
    cleanups.push(unlisten);

    const policy = startPolicyLoop({
      prepaid,
      control,
      audit,
      store: options.store,
      logger,
      clock,
      timezone: tariffs.timezone,
      hasRelay: (meter) => !!locate(meter)?.hasRelay,
      ...(options.policyIntervalMs !== undefined ? { intervalMs: options.policyIntervalMs } : {}),
    });
    cleanups.push(() => policy.stop());

    const timezone = campus.config.campus.timezone;
    const alerts = new AlertStore(db, audit, clock);
    const vee = campusVee({ campus, store: options.store, db, audit, clock });
    const billRuns = new BillRuns({ db, audit, tariffs, source: vee, timezone, clock });
    const invoices = new InvoiceChecks({
      db,
      audit,
      source: vee,
      supplyPoints: options.supplyPoints ?? [],
      timezone,
      clock,
    });
    const readings = new ManualReadings({
      db,
      audit,
      routes: options.readingRoutes ?? [],
      automatic: vee,
      clock,
    });
    // A favour reading is the inspectors' business: each mismatch lands in their inbox too.
    readings.onAlert((a) =>
      alerts.raise(
        {
          type: 'manual-reading-mismatch',
          key: `manual-reading:${a.round}:${a.meter}:${a.kind}`,
          severity: 'medium',
          meter: a.meter,
          score: 1,
          since: a.createdAt,
          reason: a.reason,
          evidence: {
            from: Math.min(...a.evidence.readings.map((r) => r.readAt)),
            to: a.createdAt,
            figures: {
              round: a.round,
              route: a.route,
              kind: a.kind,
              difference: a.evidence.difference,
              allowed: a.evidence.allowed,
              ...(a.evidence.automatic === null ? {} : { automatic: a.evidence.automatic }),
              ...Object.fromEntries(a.evidence.readings.map((r) => [r.reader, r.value])),
            },
          },
        },
        a.createdAt,
      ),
    );
    const accountsFile = options.billingAccountsFile ?? join(dirname(campus.file), 'billing-accounts.yaml');
    const billingAccounts = (): readonly BillingAccount[] =>
      existsSync(accountsFile) ? loadBillingAccounts(accountsFile) : [];
    let detection: RunningDetection | undefined;
    if (options.detection !== false) {
      const d = options.detection ?? {};
      const detLog = logger.child({ component: 'detection' });
      const detectors = [illegalLoadDetector(), heatingDetector()];
      const trip = d.trip?.autoTrip
        ? new IllegalLoadTripPolicy({ timezone: campus.config.campus.timezone, ...d.trip })
        : undefined;
      detection = startDetection({
        store: options.store,
        campus,
        alerts,
        detect: (input) => detect(input, undefined, detectors),
        publish: async (topic, payload, opts) => {
          await link.client.publishAsync(topic, payload, opts);
        },
        intervalMs: d.intervalMs ?? 300_000,
        windowMs: d.windowMs ?? 2 * 86_400_000,
        clock,
        ...(d.heating ? { heating: d.heating } : {}),
        onError: (err, where) =>
          detLog.warn({ err, where }, 'detection run failed; the next run tries again'),
        ...(trip
          ? {
              onRun: async (result: DetectionResult, _sync: unknown, now: number) => {
                for (const r of trip.step(result.findings, now)) {
                  try {
                    await control.requestFromPolicy(r);
                  } catch (err) {
                    detLog.warn({ err, meter: r.meter, action: r.action }, 'automatic trip request refused');
                  }
                }
              },
            }
          : {}),
      });
      const running = detection;
      cleanups.push(() => running.stop());
    }
    const services: RunningServices = {
      users,
      prepaid,
      control,
      audit,
      timezone,
      db,
      alerts,
      vee,
      billRuns,
      invoices,
      readings,
      campus,
      store: options.store,
      ...(detection ? { detection } : {}),
    };
    let app: FastifyInstance | undefined;
    let url: string | undefined;
    const http = options.http === undefined ? DEFAULT_HTTP : options.http;
    if (http) {
      const routes = [
        ...backofficeRoutes({
          ...services,
          ...(http.secureCookie !== undefined ? { secureCookie: http.secureCookie } : {}),
        }),
        ...alertRoutes(alerts),
        ...billingRoutes({ billRuns, invoices, accounts: billingAccounts, tariffs, timezone, clock }),
        ...readingsRoutes({ readings }),
        ...veeRoutes(vee),
        ...(options.extraRoutes?.(services) ?? []),
      ];
      app = await buildApi({ auth: users, routes, logger: logger.child({ component: 'api' }) });
      const started = app;
      cleanups.push(() => started.close());
      await app.listen({ host: http.host, port: http.port });
      const address = app.server.address() as AddressInfo;
      url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    }

    log.info(
      { db: backofficePath(campus), api: url ?? 'off', policyIntervalMs: options.policyIntervalMs ?? 60_000 },
      'back office started',
    );
    let stopping: Promise<void> | undefined;
    return {
      ...services,
      db,
      policy,
      ...(app ? { app } : {}),
      ...(url ? { url } : {}),
      stop: () => (stopping ??= unwind().then(() => log.info('back office stopped'))),
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
