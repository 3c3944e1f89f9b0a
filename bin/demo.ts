import { Option, type Command } from 'commander';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gatewayUsername, SERVICE_USERS } from '../adapters/mqtt/acl.ts';
import { startCampusBroker } from '../adapters/mqtt/campus-broker.ts';
import { SqliteStore } from '../adapters/sqlite/store.ts';
import { validateCampus, type LoadedCampus } from '../config/campus.ts';
import { ensureDemoCustomers, startDemoPayments } from '../simulators/payment/demo.ts';
import { startGateway, type RunningGateway } from '../gateway/gateway.ts';
import { pino, type Logger } from 'pino';
import { createLogger } from '../gateway/log.ts';
import { Outbox } from '../gateway/outbox/outbox.ts';
import { gatewayPkiDir } from '../gateway/pki-dir.ts';
import { openAuditLog } from '../services/platform/audit/audit-log.ts';
import { auditKeyPath } from '../services/platform/audit/paths.ts';
import type { Actor } from '../services/platform/auth/roles.ts';
import { ensureDemoUsers } from '../services/backoffice/demo-users.ts';
import { demoRulebookCampus, seedDemoRulebook } from '../services/backoffice/demo-seed/index.ts';
import type { BackofficeDb } from '../services/platform/db.ts';
import { DEFAULT_TARIFFS_FILE, loadTariffs } from '../services/backoffice/run.ts';
import { createBackofficeServer } from '../services/backoffice/server.ts';
import {
  seedDemoCapacity,
  seedDemoOutages,
  seedDemoPlans,
} from '../services/backoffice/parts/operations-desk.ts';
import { DEMO_CAPACITY, DEMO_OUTAGES, DEMO_PLANS } from '../simulators/scenario/demo-outages.ts';
import { wallClock } from '../services/metering/consumption/zone.ts';
import { ensureControlKeys } from '../services/operations/control/keys.ts';
import { runIngest } from '../services/metering/ingest/run.ts';
import { Prepaid } from '../services/money/prepaid/prepaid.ts';
import { formatLocalTime } from '../services/metering/consumption/local-time.ts';
import { demoScenario } from '../simulators/scenario/demo.ts';
import {
  DEMO_DLT645_PASSWORD,
  DEMO_DLT645_PASSWORD_ENV,
  startDemoFieldLines,
} from '../simulators/scenario/field-lines.ts';
import { startScenario } from '../simulators/scenario/live.ts';
import { renderScenario } from '../simulators/scenario/render.ts';
import type { Scenario } from '../simulators/scenario/schema.ts';
import { seedDemoHeating } from '../services/backoffice/parts/heating.ts';

const DAY = 86_400_000;
const STEP = 900_000;

export interface DemoHelpers {
  guarded: (fn: () => Promise<void>) => Promise<void>;
  onShutdown: (stop: () => Promise<void>) => void;
}

interface DemoState {
  /** The scenario start: the demo's history begins here and the live campus continues it. */
  start: number;
  rooms: number;
}

/** The prepaid rooms the demo opens, with what they were topped up with when opened. */
const DEMO_ACCOUNTS = [
  { room: 'E1-101', topUpFen: 300, note: 'runs out of credit' },
  { room: 'E1-102', topUpFen: 20_000, note: 'healthy' },
  { room: 'E1-103', topUpFen: 1_200, note: 'low balance' },
];

/**
 * `campus-energy demo`: everything on embedded defaults. A seeded scenario campus (~370 meters,
 * two OPC UA substations) gets `--history` days of readings rendered into the store on first
 * start — with the scenario's injected thefts, illegal heater and heating used while registered
 * stopped inside them — and then runs live from the same model, so registers continue and the
 * gateways number on from the history. The back office opens a few prepaid rooms back then, so
 * one is out of credit now, and detection runs over the history at once. Dorm E3's DL/T 645 meters
 * and a CJ/T 188 water and heat line join the first gateway live (no history), served by the same
 * farm lines as `campus-energy simulate`.
 */
export function registerDemoCommand(program: Command, h: DemoHelpers): void {
  program
    .command('demo')
    .description(
      'The demo campus on embedded defaults: broker, simulated meters and substations, gateways, ingest, back office',
    )
    .addOption(new Option('--broker-port <port>', 'embedded broker port').default('1883').argParser(Number))
    .addOption(new Option('--http-port <port>', 'back-office API port').default('8080').argParser(Number))
    .addOption(
      new Option('--rooms <n>', 'dorm rooms per floor (RS-485 line)').default('20').argParser(Number),
    )
    .addOption(
      new Option('--history <days>', 'days of history on first start').default('12').argParser(Number),
    )
    .addOption(new Option('--data-dir <dir>').default('var/demo'))
    .addOption(new Option('--log-level <level>').default('warn'))
    .addOption(new Option('--log-json', 'log lines as JSON (for a log collector) instead of readable text'))
    .action(
      (opts: {
        brokerPort: number;
        httpPort: number;
        rooms: number;
        history: number;
        dataDir: string;
        logLevel: string;
        logJson?: boolean;
      }) =>
        h.guarded(async () => {
          const logger = opts.logJson ? createLogger(opts.logLevel) : readableLogger(opts.logLevel);
          // node-opcua prints its own diagnostics to the console (on Node 20 a warning about
          // RSA PKCS#1 v1.5, which no policy the demo uses needs): to the logger at debug level.
          // Imported here, not at the top: loading node-opcua at all prints that warning, and every
          // other command of the CLI (consumption, billing, …) must keep its output clean.
          (await import('../adapters/opcua/logging.ts')).routeOpcuaLogs(logger);
          const dataDir = resolve(opts.dataDir);
          mkdirSync(dataDir, { recursive: true });
          const stateFile = join(dataDir, 'demo-state.json');
          const first = !existsSync(stateFile);
          const now = Date.now();
          const state: DemoState = first
            ? { start: Math.floor((now - opts.history * DAY) / STEP) * STEP, rooms: opts.rooms }
            : (JSON.parse(readFileSync(stateFile, 'utf8')) as DemoState);
          // The injected thefts and faults happen in the last five days of the history, after a
          // clean stretch the detection service learns each node's technical loss from.
          const scenario = shiftInjections(
            demoScenario({ start: state.start, roomsPerFloor: state.rooms }),
            Math.max(0, Math.round((now - state.start) / DAY) - 5) * DAY,
          );

          // One model drives the Modbus meters and the OPC UA substations, from now on.
          const { startSubstation } = await import('../simulators/substation/server.ts');
          const serverCerts: string[] = [];
          const live = await startScenario(scenario, {
            dataDir,
            host: '127.0.0.1',
            pollInterval: '10s',
            startTime: now,
            startSubstation: async (o) => {
              const sub = await startSubstation(o);
              serverCerts.push(sub.certificateFile);
              return sub;
            },
          });
          // Dorm E3 on DL/T 645 and a CJ/T 188 water and heat line, served as `simulate` serves
          // them and read by the same gateway. The simulated meters take the delivered password;
          // a password set in the environment wins (and a wrong one is refused by the meters).
          process.env[DEMO_DLT645_PASSWORD_ENV] ??= DEMO_DLT645_PASSWORD;
          const field = await startDemoFieldLines(live.campus, {
            rooms: state.rooms,
            host: '127.0.0.1',
            dataDir,
          }).catch(async (err: unknown) => {
            await live.stop();
            throw err;
          });
          // The simulated campus-card provider, for self top-up from the customers' page.
          const payments = await startDemoPayments(dataDir);
          const campus = validateCampus(
            { ...live.campus, payments: { providers: [payments.provider] }, ...demoRulebookCampus() },
            {
              file: join(dataDir, 'demo-campus.yaml'),
              dir: dataDir,
            },
          );
          logZone = campus.config.campus.timezone;
          ensureControlKeys(campus);
          const storePath = join(campus.dataDir, campus.config.storage.sqlite.path);

          if (first) {
            // The history, as if the gateways had published it: into the store, and each
            // gateway's outbox continues every meter's numbering after it. The field-protocol
            // lines have no history: their meters number from 1, or ingest would miss 1..n.
            process.stdout.write(`  rendering ${opts.history} days of history… `);
            const store = SqliteStore.open({ path: storePath });
            const rendered = await renderScenario(scenario, {
              from: state.start,
              to: now,
              stepMs: STEP,
              writer: store,
              truth: 'totals',
            });
            await store.close();
            const next = rendered.intervals + 1;
            for (const site of campus.config.sites) {
              for (const g of site.gateways) {
                const outbox = Outbox.open({
                  path: join(dataDir, `${g.id}-outbox.sqlite`),
                  maxBytes: g.outbox.maxBytes,
                });
                for (const b of g.buses) {
                  if (field.buses.includes(b.id)) continue;
                  for (const m of b.meters) outbox.continueNumberingAt(m.id, next);
                }
                for (const d of g.opcua) for (const m of d.meters) outbox.continueNumberingAt(m.id, next);
                outbox.close();
              }
            }
            console.log(`${rendered.readings} readings`);
          }

          // The demo installs both ends, so it trusts its own substations' certificates the way
          // an installer would with `campus-energy opcua trust`: explicitly, one by one.
          const { trustCertificate } = await import('../adapters/opcua/pki.ts');
          for (const site of campus.config.sites) {
            for (const g of site.gateways) {
              if (g.opcua.length === 0) continue;
              for (const cert of serverCerts) await trustCertificate(gatewayPkiDir(campus, g.id), cert);
            }
          }
          // Every client logs in with its own account (generated into the data folder, owner-only)
          // under the same ACL as the mosquitto files: nobody on the host can forge a reading.
          const broker = await startCampusBroker(campus, { port: opts.brokerPort });
          const gateways: RunningGateway[] = [];
          for (const site of campus.config.sites) {
            for (const g of site.gateways) {
              gateways.push(
                await startGateway({
                  campus,
                  gatewayId: g.id,
                  mqtt: broker.login(gatewayUsername(site.id, g.id)),
                  logger,
                  outboxPath: join(dataDir, `${g.id}-outbox.sqlite`),
                }),
              );
            }
          }
          // Aedes speaks MQTT 3.1.1, so the demo's single ingest subscribes plainly, without MQTT 5.
          const ingest = await runIngest(campus, broker.login(SERVICE_USERS.ingest), {
            logger,
            shareGroup: null,
            protocolVersion: 4,
          });
          const backoffice = await createBackofficeServer({
            campus,
            mqtt: broker.login(SERVICE_USERS.control),
            liveMqtt: broker.login(SERVICE_USERS.monitor),
            store: ingest.store,
            logger,
            http: { host: '127.0.0.1', port: opts.httpPort, secureCookie: false },
            policyIntervalMs: 10_000,
            detection: {
              // Off the event loop the gateways, ingest and the API share (issue 26 item 7).
              inWorker: true,
              intervalMs: 60_000,
              windowMs: now - state.start + DAY,
            },
            // Bill runs too: a month of the campus is a minute of VEE and pricing.
            heavyJobsInThreads: true,
          });
          const staff = await ensureDemoUsers(backoffice.users, join(dataDir, 'demo-users.json'));
          if (first) openDemoAccounts(campus, backoffice.db, state.start);
          const rulebook = first ? await seedDemoRulebook(backoffice, { start: state.start, now }) : [];
          // Announced outages for the public page and the outage desk, by two demo people.
          if (first) {
            const person = (id: string, role: Actor['roles'][number]): Actor => ({
              id,
              kind: 'user',
              roles: [role],
            });
            const planner = person('demo.operator', 'operator');
            const approver = person('demo.supervisor', 'supervisor');
            const tz = campus.config.campus.timezone;
            seedDemoOutages(
              backoffice.desk.outages,
              DEMO_OUTAGES,
              { planner, approver },
              tz,
              Date.now(),
              logger,
            );
            const plans = backoffice.desk.plans();
            const year = wallClock(Date.now(), tz).year;
            if (plans) seedDemoPlans(plans, DEMO_PLANS, { planner, approver }, year, logger);
            const clerk = person('demo.clerk', 'clerk');
            // The heating desk's signed stops are what detection's "registered stopped" rests on.
            const fitters = [
              person('demo.fitter', 'maintenance'),
              person('demo.fitter2', 'maintenance'),
            ] as const;
            const heatingDesk = { desk: person('demo.heating', 'heating-desk'), fitters };
            const pending = { stop: 'H-W-H04', start: 'H-E-H07' };
            seedDemoHeating(backoffice.heating, stoppedUnits(scenario), heatingDesk, pending, logger);
            void seedDemoCapacity(
              backoffice.desk.capacity,
              DEMO_CAPACITY,
              { clerk, reviewer: planner },
              logger,
            );
          }
          const customers = await ensureDemoCustomers(
            backoffice.customers.logins,
            join(dataDir, 'demo-customers.json'),
            DEMO_ACCOUNTS.map((a) => `ROOM-${a.room}`),
          );
          writeFileSync(stateFile, JSON.stringify(state));

          const meters = gateways.reduce((n, g) => n + g.status().meters!, 0);
          const substations = campus.config.sites.reduce(
            (n, s) => n + s.gateways.reduce((m, g) => m + g.opcua.length, 0),
            0,
          );
          const tz = campus.config.campus.timezone;
          console.log(`campus-energy demo: ${campus.config.campus.name}`);
          console.log(
            `  ${meters} simulated meters: ${live.buses.length} Modbus buses, ${substations} OPC UA substations; ${gateways.length} gateways`,
          );
          console.log(
            `  ${field.meters} meters on Chinese field protocols: ${field.farm.lines.map((l) => `${l.id} (${l.protocol === 'dlt645' ? 'DL/T 645' : 'CJ/T 188'}) on ${l.host}:${l.port}`).join(', ')}`,
          );
          console.log(
            `  history from ${formatLocalTime(state.start, tz)} (${tz}), with injected thefts, an illegal heater and heating used while stopped`,
          );
          console.log(`  MQTT broker (embedded, every client logs in): ${broker.url}`);
          console.log(`  accounts and passwords (owner-only): ${broker.secretsFile}`);
          console.log(
            `  watch readings:  mosquitto_sub -p ${broker.port} -u svc/monitor -P "$(node -pe 'require(process.argv[1])["svc/monitor"]' ${broker.secretsFile})" -t 'campus/v1/#' -v`,
          );
          console.log(`  readings stored in: ${storePath} (SQLite)`);
          console.log(
            `  web app: ${backoffice.url}/  (API: ${backoffice.url}/openapi.json, metrics: ${backoffice.url}/metrics)`,
          );
          console.log(`  demo users (passwords also in ${join(dataDir, 'demo-users.json')}):`);
          for (const u of staff)
            console.log(`    ${u.username.padEnd(18)} ${u.password}  ${u.roles.join(', ')}`);
          console.log(`  customers' self-service (phone): ${backoffice.url}/self/`);
          for (const c of customers) console.log(`    ${c.username.padEnd(18)} ${c.password}  ${c.account}`);
          console.log(`  payment provider (simulated campus card): ${payments.sim.url}`);
          for (const line of rulebook) console.log(`  ${line}`);
          console.log('  Ctrl-C stops everything.');

          // Detection over the history at once, then every minute.
          void backoffice.detection?.runOnce().then(
            (r) => console.log(`  detection: ${r.opened.length} alerts opened (inspectors' inbox)`),
            (err: unknown) => console.log(`  detection failed: ${(err as Error).message}`),
          );
          const progress = setInterval(() => {
            const at = formatLocalTime(Date.now(), tz);
            for (const g of gateways) {
              const s = g.status();
              const p = g.publisher.stats();
              console.log(
                `  ${at} ${g.id}: published ${p.acked}, outbox ${s.outbox?.messages ?? 0}, broker ${p.connected ? 'connected' : 'DOWN'}`,
              );
            }
            const i = ingest.ingest.stats();
            const open = backoffice.alerts.list({}).filter((a) => a.state !== 'closed').length;
            const balances = DEMO_ACCOUNTS.map((a) => {
              try {
                return `ROOM-${a.room} ¥${(backoffice.prepaid.balance(`ROOM-${a.room}`) / 100).toFixed(2)}`;
              } catch {
                return `ROOM-${a.room} –`;
              }
            }).join(', ');
            const pending = backoffice.control.list({ state: 'pending' }).length;
            console.log(
              `  ${at} ingest: stored ${i.stored}, dead-lettered ${i.deadLettered}; alerts open ${open}; relay requests awaiting approval ${pending}; ${balances}`,
            );
          }, 10_000);
          h.onShutdown(async () => {
            clearInterval(progress);
            await backoffice.stop();
            for (const g of gateways) await g.stop();
            await ingest.stop();
            await live.stop();
            await field.farm.stop();
            await broker.close();
            await payments.sim.close();
          });
        }),
    );
}

/**
 * Opens the demo's prepaid rooms as of the start of the history (a clerk opens and tops up, a
 * supervisor verifies the tariff type), through the same Prepaid service and audit log, with a
 * clock set back to then: the policy loop then debits the days since, and one room is out of
 * credit now.
 */
function openDemoAccounts(campus: LoadedCampus, db: BackofficeDb, start: number): void {
  const at = start + 3_600_000;
  const clock = () => at;
  const prepaid = new Prepaid({
    db,
    audit: openAuditLog(db, clock, auditKeyPath(campus)),
    tariffs: loadTariffs(DEFAULT_TARIFFS_FILE),
    clock,
  });
  const clerk: Actor = { id: 'demo.clerk', kind: 'user', roles: ['clerk'] };
  const supervisor: Actor = { id: 'demo.supervisor', kind: 'user', roles: ['supervisor'] };
  const known = new Set(
    campus.config.sites.flatMap((s) =>
      s.gateways.flatMap((g) => g.buses.flatMap((b) => b.meters.map((m) => m.id))),
    ),
  );
  for (const a of DEMO_ACCOUNTS) {
    const meter = `E-${a.room}`;
    if (!known.has(meter)) continue;
    const id = `ROOM-${a.room}`;
    prepaid.openAccount(clerk, {
      id,
      customerType: 'student-room',
      holder: `Dorm room ${a.room} (${a.note})`,
      meters: [meter],
      occupants: 4,
    });
    prepaid.verifyTariffType(supervisor, id);
    prepaid.topUp(clerk, { account: id, amountFen: a.topUpFen, method: 'cash', reference: `demo-${id}` });
  }
}

/** The scenario with its injections and relay cuts moved later by `ms` (registrations stay). */
function shiftInjections(scenario: Scenario, ms: number): Scenario {
  if (ms === 0) return scenario;
  const win = <W extends { from: number; to: number }>(w: W): W => ({
    ...w,
    from: w.from + ms,
    to: w.to + ms,
  });
  return {
    ...scenario,
    injections: scenario.injections.map(win),
    nodes: scenario.nodes.map((n) => ({ ...n, cut: n.cut.map(win) })),
  };
}

/** The units the scenario has stopped for the season: signed stops at the heating desk (seedDemoHeating). */
function stoppedUnits(scenario: Scenario): { unit: string; from: number }[] {
  return scenario.nodes.flatMap((n) =>
    n.meter && n.utility === 'heat' ? n.heatingStopped.map((w) => ({ unit: n.meter!.id, from: w.from })) : [],
  );
}

/** The zone log times are shown in: UTC until the campus file is read, then the campus's. */
let logZone = 'UTC';

function logClock(ts: number): string {
  const hms = new Intl.DateTimeFormat('en-GB', {
    timeZone: logZone,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).format(ts);
  return logZone === 'UTC' ? `${hms}Z` : hms;
}

const LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/**
 * The demo's log as a person reads it in a terminal: `00:08:12 info gw-east/bus: bus connected
 * (bus=E1-line1)` instead of pino's JSON lines (`--log-json` keeps those for a collector).
 */
function readableLogger(level: string): Logger {
  return pino(
    { level, base: undefined },
    {
      write(line: string) {
        process.stdout.write(`${readableLine(line)}\n`);
      },
    },
  );
}

function readableLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.trimEnd();
  }
  const { level, time, msg, component, gateway, err, ...rest } = o;
  const when = typeof time === 'number' ? logClock(time) : '';
  const who = [gateway, component].filter((x) => typeof x === 'string').join('/');
  const details = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  const error =
    err && typeof err === 'object' ? ` — ${String((err as { message?: unknown }).message ?? '')}` : '';
  return `${when} ${LEVELS[Number(level)] ?? String(level)} ${who ? `${who}: ` : ''}${String(msg ?? '')}${error}${details ? ` (${details})` : ''}`;
}
