import type { MqttConnection } from '../../adapters/mqtt/connection.ts';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { LoadedCampus } from '../../config/campus.ts';
import { backofficeRoutes, type BackofficeServices } from './api-routes.ts';
import { parseTariffTable, type TariffTable } from '../money/billing/tariffs.ts';
import { tariffRoutes } from '../money/billing/tariff-routes.ts';
import { campusTariffsFile, seedTariffs } from '../money/billing/tariff-source.ts';
import { liveTariffs, TariffStore } from '../money/billing/tariff-store.ts';
import { billingRoutes } from '../money/billing/routes.ts';
import { createPrepaid, type FreeQuotaRule, type PolicyInput, type Prepaid } from '../money/prepaid/index.ts';
import type { AuditLog } from '../platform/audit/audit-log.ts';
import type { Users } from '../platform/auth/users.ts';
import type { ControlMqtt } from '../operations/control/mqtt.ts';
import type { ReadingStore } from '../metering/storage.ts';
import type { BackofficeDb, Clock } from '../platform/db.ts';
import { AlertStore } from '../inspection/detection/alerts.ts';
import { alertRoutes, type RunningDetection } from '../inspection/detection/service.ts';
import type { Vee } from '../metering/vee/service.ts';
import { campusVee } from '../metering/vee/campus.ts';
import { veeRoutes } from '../metering/vee/routes.ts';
import type { BillRuns } from '../money/billing/bill-run.ts';
import type { InvoiceChecks, SupplyPointInput } from '../money/billing/invoice-check.ts';
import type { ManualReadings, ReadingRoute } from '../metering/readings/manual.ts';
import { readingsRoutes } from '../metering/readings/routes.ts';
import { createPolicyLoop, type PolicyLoop } from './policy-loop.ts';
import { Lifecycle } from './lifecycle.ts';
import { stopOneShots } from '../platform/threads/one-shot.ts';
import { createApi, DEFAULT_HTTP, type HttpSettings, type RouteFn } from './parts/api.ts';
import { createAuditHead } from './parts/audit-head.ts';
import { createBilling, type Billing } from './parts/billing.ts';
import { createCollection, type CollectionSide } from './parts/collection.ts';
import { createHeating, type HeatingPart } from './parts/heating.ts';
import { createComplaints, type ComplaintsPart } from './parts/complaints.ts';
import { createControlLink, createRelayControl, type RunningRelayControl } from './parts/control.ts';
import { createDetection, type DetectionSettings } from './parts/detection.ts';
import { createDormPower, creditVeto, type RunningDormPower } from './parts/dorm-power.ts';
import { createOperationsDesk, type OperationsDesk } from './parts/operations-desk.ts';
import { createCustomerSide, type CustomerSide } from './parts/customers.ts';
import { createManualReadings } from './parts/readings.ts';
import { createStorage } from './parts/storage.ts';
import { createRetention, type RetentionPart } from './parts/retention.ts';
import { retentionRoutes } from './parts/retention-routes.ts';
import { createUsers } from './parts/users.ts';

/**
 * The back office as one process: its database, the audit log and its published chain head,
 * users, prepaid accounts, relay control with its MQTT link to the gateways, the prepaid policy
 * loop, and (unless `http: false`) the HTTP API. `createBackoffice` is the composition root: a list
 * of factory calls, each part taking only what it needs; tests, the demo and `campus-energy run`
 * all start the back office through it.
 */

export { DEFAULT_HTTP };

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
  /** Where the API listens; default 127.0.0.1:8080; false: no HTTP API. */
  http?: HttpSettings | false;
  /** How often the prepaid policy runs (default 60 s). */
  policyIntervalMs?: number;
  /**
   * The tariff file imported as version 1 when the database holds no tariff version yet; default
   * tariffs.json next to the campus file, else the example table (demo). Later it is only compared
   * (a warning if it differs): the tariffs in force are the back office's, changed by two people.
   */
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
   * The detection service (default every 5 min over 2 days); false: no detection. Heating
   * registrations come from the heating desk.
   */
  detection?: DetectionSettings | false;
  /**
   * Bill runs on threads of their own (money/billing/bill-run-job.ts), off the loop that serves the
   * API and, in the demo, polls and stores: the run and demo commands set it. Off, they run here.
   */
  heavyJobsInThreads?: boolean;
  /** More routes served by the same API (the live view, the web app), given the services. */
  extraRoutes?: (services: RunningServices) => RouteFn[];
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
  /** Planned outages and the public window (parts/operations-desk.ts). */
  desk: OperationsDesk;
}

export interface RunningBackoffice extends Omit<RunningServices, 'secureCookie'> {
  policy: PolicyLoop;
  /** Lights-out schedules and power limits (parts/dorm-power.ts). */
  dormPower: RunningDormPower;
  /** Customers' sign-in and self-service page, self top-up through payment providers. */
  customers: CustomerSide;
  /** Post-paid collection and the half-monthly reconciliation (parts/collection.ts). */
  collection: CollectionSide;
  /** The heating desk, certified areas and season fees, spot checks (parts/heating.ts). */
  heating: HeatingPart;
  /** Complaints and tips, and the tip mailbox (parts/complaints.ts). */
  complaints: ComplaintsPart;
  /** Retention of raw readings with the services' holds (parts/retention.ts). */
  retention: RetentionPart;
  app?: FastifyInstance;
  /** The API's base URL, when it listens. */
  url?: string;
  stop(): Promise<void>;
}

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

export async function createBackoffice(options: BackofficeOptions): Promise<RunningBackoffice> {
  const log = options.logger.child({ component: 'backoffice' });
  const life = new Lifecycle(log);
  try {
    const running = await startParts(options, life, log);
    log.info(
      { db: running.dbPath, api: running.url ?? 'off', policyIntervalMs: options.policyIntervalMs ?? 60_000 },
      'back office started',
    );
    const { dbPath: _path, ...backoffice } = running;
    return { ...backoffice, stop: () => life.stop().then(() => log.info('back office stopped')) };
  } catch (err) {
    await life.stop();
    throw err;
  }
}

/** The former name of createBackoffice: the same factory. */
export const startBackoffice = createBackoffice;

/** What the first parts give the later ones. */
interface Core {
  clock: Clock;
  /** Always the version in force in `tariffStore` (prepaid sales price with it). */
  tariffs: TariffTable;
  tariffStore: TariffStore;
  db: BackofficeDb;
  audit: AuditLog;
  dbPath: string;
  users: Users;
  prepaid: Prepaid;
  link: ControlMqtt;
  relay: RunningRelayControl;
}

/** Each part in the order it depends on the others; `life` stops them newest first. */
async function startParts(
  options: BackofficeOptions,
  life: Lifecycle,
  log: Logger,
): Promise<Omit<RunningBackoffice, 'stop'> & { dbPath: string }> {
  const core = await startCore(options, life, log);
  const desk = life.own(
    createOperationsDesk({ ...core, campus: options.campus, store: options.store, logger: options.logger }),
    (d) => d.stop(),
  );
  const policy = life.own(startPolicy(core, options, desk), (p) => p.stop());
  const dormPower = life.own(
    createDormPower({
      ...{ ...core, control: core.relay.control, locate: core.relay.locate },
      ...{ campus: options.campus, store: options.store, logger: options.logger },
    }),
    (p) => p.stop(),
  );
  const { heating, opts } = startHeating(core, options);
  const { services, billing } = startRecords(core, opts, life, dormPower.tripIllegalLoad, desk);
  const collection = startCollection(core, options.campus, billing, heating);
  const complaints = life.own(createComplaints({ ...options, ...core, ...services, billing }), (c) =>
    c.stop(),
  );
  const retention = life.own(
    createRetention({ ...options, ...core, alerts: services.alerts, accounts: billing.accounts }),
    (r) => r.stop(),
  );
  const http = options.http === undefined ? DEFAULT_HTTP : options.http;
  const customers = life.own(
    createCustomerSide({
      ...{ db: core.db, audit: core.audit, prepaid: core.prepaid, clock: core.clock, tariffs: core.tariffs },
      ...pick(options, 'scryptCost'),
      ...(http ? pick(http, 'secureCookie') : {}),
      ...{ campus: options.campus, logger: options.logger },
      publish: async (topic, payload) =>
        void (await core.link.client.publishAsync(topic, payload, { qos: 1 })),
    }),
    (c) => c.stop(),
  );
  desk.notify((account) => customers.logins.contactsOf(account));
  const api = http
    ? life.own(
        await createApi({
          http,
          auth: core.users,
          routes: [
            ...apiRoutes(services, billing, core.tariffStore, http, options),
            ...dormPower.routes(core.clock),
            ...desk.routes({ billRuns: billing.billRuns, vee: services.vee }),
            ...customers.routes,
            ...collection.routes,
            ...heating.routes,
            ...complaints.routes,
            ...retentionRoutes(retention, options.campus.config.storage.retention),
          ],
          logger: options.logger,
        }),
        (a) => a.app.close(),
      )
    : undefined;
  // Stopped before the API closes (newest first): a bill run or report on its thread ends, and
  // its request with it, instead of holding the server's close past the stop's deadline.
  if (options.heavyJobsInThreads) life.own(null, () => stopOneShots());
  if (api) customers.setApiUrl(api.url);
  return {
    ...services,
    policy,
    dormPower,
    customers,
    collection,
    complaints,
    heating,
    retention,
    dbPath: core.dbPath,
    ...(api ? { app: api.app, url: api.url } : {}),
  };
}

/** The prepaid cut-off and restore loop; a meter in a planned outage is neither cut nor restored. */
function startPolicy(core: Core, options: BackofficeOptions, desk: OperationsDesk) {
  return createPolicyLoop({
    ...{ prepaid: core.prepaid, audit: core.audit, clock: core.clock },
    ...{ store: options.store, logger: options.logger },
    control: core.relay.control,
    timezone: core.tariffs.timezone,
    hasRelay: (meter) => !!core.relay.locate(meter)?.hasRelay,
    plannedOutage: desk.outageOf,
    ...(options.policyIntervalMs !== undefined ? { intervalMs: options.policyIntervalMs } : {}),
  });
}

/** The heating desk and fees; detection's "registered stopped" is the desk's signed stops. */
function startHeating(core: Core, options: BackofficeOptions) {
  const heating = createHeating({ ...core, campus: options.campus, store: options.store });
  return { heating, opts: { ...options, detection: heating.detection(options.detection) } };
}

/**
 * Post-paid collection over the bill runs and the heating seasons' fee runs; the heating desk's
 * fee gate asks it whether a start's fee is paid.
 */
function startCollection(core: Core, campus: LoadedCampus, billing: Billing, heating: HeatingPart) {
  const collection = createCollection({ ...core, campus, billRuns: heating.withFeeRuns(billing.billRuns) });
  heating.attach(collection.collection, billing.invoices);
  return collection;
}

/** The database and audit log, users, prepaid, and relay control with its MQTT link. */
async function startCore(options: BackofficeOptions, life: Lifecycle, log: Logger): Promise<Core> {
  const { campus, logger } = options;
  const clock = options.clock ?? Date.now;
  const { db, audit, path } = life.own(createStorage({ campus, clock }), (s) => s.close());
  // The tariffs are the back office's, versioned and changed by two people (tariff-store.ts); a
  // file is imported once, at the first start.
  const tariffStore = new TariffStore({ db, audit, clock });
  let tariffsFile = campusTariffsFile(campus, options.tariffsFile);
  if (!tariffsFile && tariffStore.currentVersion() === 0) {
    log.warn(
      { file: DEFAULT_TARIFFS_FILE },
      'no tariffs.json next to the campus file: the example tariffs are imported as version 1 (demo only)',
    );
    tariffsFile = DEFAULT_TARIFFS_FILE;
  }
  const seeded = seedTariffs(tariffStore, tariffsFile);
  if (seeded.imported)
    log.info({ file: tariffsFile, version: seeded.version }, 'tariffs imported as version 1');
  if (seeded.differs) log.warn({ version: seeded.version }, seeded.differs);
  const tariffs = liveTariffs(tariffStore);
  const users = await createUsers({
    db,
    audit,
    clock,
    log,
    settings: campus.config.auth,
    ...pick(options, 'scryptCost', 'bootstrapAdmin'),
  });
  const prepaid = createPrepaid({
    ...{ db, audit, tariffs, clock, freeQuota: campus.config.prepaid.freeQuota },
    ...pick(options, 'policy', 'freeQuotaRules'),
  });
  const link = life.own(await createControlLink({ mqtt: options.mqtt, logger }), (l) => l.close());
  const relay = life.own(
    createRelayControl({
      ...{ campus, db, audit, clock, link, log, ...pick(options, 'timeoutSweepMs') },
      closeVeto: creditVeto(prepaid, clock),
    }),
    (r) => r.stop(),
  );
  const intervalMs = options.auditHeadIntervalMs;
  life.own(createAuditHead({ audit, clock, link, logger, intervalMs }), (h) => h.stop());
  return { clock, tariffs, tariffStore, db, audit, dbPath: path, users, prepaid, link, relay };
}

/** The services over the readings: alerts, VEE, manual readings, billing, and detection unless off. */
function startRecords(
  core: Core,
  options: BackofficeOptions,
  life: Lifecycle,
  illegalLoadTrip: (meter: string, evidence: unknown) => Promise<unknown>,
  desk: OperationsDesk,
): { services: RunningServices; billing: Billing } {
  const { campus, store, logger } = options;
  const { db, audit, clock, link } = core;
  const control = core.relay.control;
  const alerts = new AlertStore(db, audit, clock);
  const vee = campusVee({ campus, store, db, audit, clock });
  const readings = createManualReadings({ db, audit, clock, vee, alerts, routes: options.readingRoutes });
  const billing = createBilling({
    ...{ campus, db, audit, clock, tariffs: core.tariffStore, vee },
    accountsFile: options.billingAccountsFile,
    supplyPoints: options.supplyPoints,
    inThread: options.heavyJobsInThreads ?? false,
  });
  const settings = options.detection;
  const detection =
    settings === false
      ? undefined
      : life.own(
          createDetection({
            ...{ campus, store, alerts, control, link, clock, logger, settings: settings ?? {} },
            illegalLoadTrip,
            explained: desk.explains,
          }),
          (d) => d.stop(),
        );
  const services: RunningServices = {
    ...{ users: core.users, prepaid: core.prepaid, control, audit, db, alerts, vee, readings, campus, store },
    ...{ timezone: campus.config.campus.timezone, billRuns: billing.billRuns, invoices: billing.invoices },
    ...(detection ? { detection } : {}),
    desk,
  };
  return { services, billing };
}

/** Every route the API serves: the back office's own, each service's, and the caller's extras. */
function apiRoutes(
  services: RunningServices,
  billing: Billing,
  tariffStore: TariffStore,
  http: HttpSettings,
  options: BackofficeOptions,
): RouteFn[] {
  const { billRuns, invoices, accounts } = billing;
  const { timezone, clock } = { timezone: services.timezone, clock: options.clock };
  return [
    ...backofficeRoutes({ ...services, ...pick(http, 'secureCookie') }),
    ...alertRoutes(services.alerts),
    ...billingRoutes({
      ...{ billRuns, invoices, accounts, timezone, ...(clock ? { clock } : {}) },
      tariffs: () => tariffStore.current(),
    }),
    ...tariffRoutes(tariffStore),
    ...readingsRoutes({ readings: services.readings }),
    ...veeRoutes(services.vee),
    ...(options.extraRoutes?.(services) ?? []),
  ];
}

/** The given keys of `o` that are set: optional settings passed on without `undefined` values. */
function pick<T extends object, K extends keyof T>(
  o: T,
  ...keys: K[]
): { [P in K]?: Exclude<T[P], undefined> } {
  const out: { [P in K]?: Exclude<T[P], undefined> } = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k] as Exclude<T[K], undefined>;
  return out;
}
