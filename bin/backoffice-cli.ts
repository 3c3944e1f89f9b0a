import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { loadCampus } from '../config/campus.ts';
import { DurationSchema } from '../config/schemas/campus.ts';
import { createLogger } from '../gateway/log.ts';
import { embeddedBrokerLogin } from '../adapters/mqtt/embedded-login.ts';
import { SERVICE_USERS } from '../adapters/mqtt/acl.ts';
import { openStore } from '../services/metering/open-store.ts';
import { createBackofficeServer } from '../services/backoffice/server.ts';
import { guarded, mqttFor, onShutdown } from './cli-shared.ts';

/**
 * `campus-energy backoffice` as a program of its own (the launcher starts it directly, as it does
 * the gateway and ingest): the part of `campus-energy run` that serves the API is back after a
 * restart in the time the back office's own modules take to load, without the simulators, the
 * OPC UA and DL/T 645 tools and every other command of the whole CLI.
 */
export function registerBackofficeCommand(program: Command): void {
  program
    .command('backoffice')
    .description(
      'The back office: users, prepaid accounts and ledger, relay control, audit log and the HTTP API',
    )
    .requiredOption('-c, --config <file>', 'campus YAML file')
    .option('--mqtt <url>', 'broker URL (overrides the file)')
    .option(
      '--mqtt-user <name>',
      'broker user (with ACLs: svc/control; the live view then logs in as svc/monitor with CAMPUS_MONITOR_MQTT_PASSWORD); password from CAMPUS_BACKOFFICE_MQTT_PASSWORD',
    )
    .option('--http <host:port>', 'API address', '127.0.0.1:8080')
    .option('--no-http', 'no HTTP API')
    .option(
      '--insecure-cookie',
      'session cookie without Secure (plain http on a LAN address; never on the Internet)',
    )
    .option('--tariffs <file>', 'tariff table (JSON)')
    .option('--policy-interval <duration>', 'prepaid policy pass', '1m')
    .addOption(new Option('--log-level <level>').default('info'))
    .action(
      (opts: {
        config: string;
        mqtt?: string;
        mqttUser?: string;
        http: string | false;
        insecureCookie?: boolean;
        tariffs?: string;
        policyInterval: string;
        logLevel: string;
      }) =>
        guarded(async () => {
          const campus = loadCampus(opts.config);
          const logger = createLogger(opts.logLevel);
          // Under `campus-energy run` with the embedded broker: log in with the back office's accounts.
          const embedded = !campus.config.mqtt && !opts.mqtt ? process.env.CAMPUS_EMBEDDED_BROKER : undefined;
          const mqtt = embedded
            ? embeddedBrokerLogin(campus, embedded, SERVICE_USERS.control)
            : mqttFor(campus, opts.mqtt);
          if (!mqtt)
            throw new Error('the back office needs a broker: set mqtt.url in the campus file or pass --mqtt');
          if (opts.mqttUser) {
            mqtt.username = opts.mqttUser;
            mqtt.password = process.env.CAMPUS_BACKOFFICE_MQTT_PASSWORD;
          }
          let http: { host: string; port: number; secureCookie: boolean; publicOrigins?: string[] } | false =
            false;
          if (opts.http !== false) {
            const m = /^(.+):(\d+)$/.exec(opts.http);
            if (!m) throw new Error(`--http: expected host:port, got ${opts.http}`);
            http = { host: m[1]!, port: Number(m[2]), secureCookie: !opts.insecureCookie };
            // Behind a reverse proxy the browser's Origin is the proxy's, not this listener's.
            if (process.env.CAMPUS_PUBLIC_ORIGIN) {
              http = {
                ...http,
                publicOrigins: process.env.CAMPUS_PUBLIC_ORIGIN.split(',').map((o) => o.trim()),
              };
            }
          }
          // The first administrator comes from the environment only, and only while no user exists.
          const admin =
            process.env.CAMPUS_ADMIN_USER && process.env.CAMPUS_ADMIN_PASSWORD
              ? { username: process.env.CAMPUS_ADMIN_USER, password: process.env.CAMPUS_ADMIN_PASSWORD }
              : undefined;
          const store = await openStore(campus, logger);
          const bo = await createBackofficeServer({
            ...(embedded ? { liveMqtt: embeddedBrokerLogin(campus, embedded, SERVICE_USERS.monitor) } : {}),
            ...(opts.mqttUser
              ? {
                  liveMqtt: {
                    url: mqtt.url,
                    username: 'svc/monitor',
                    password: process.env.CAMPUS_MONITOR_MQTT_PASSWORD,
                  },
                }
              : {}),
            campus,
            mqtt,
            store,
            logger,
            http,
            policyIntervalMs: DurationSchema.parse(opts.policyInterval),
            tariffsFile: opts.tariffs ? resolve(opts.tariffs) : undefined,
            bootstrapAdmin: admin,
            // The store is the campus's (openStore): detection reads it from a thread of its own.
            detection: { inWorker: true },
            // Bill runs on threads of their own, off the loop that serves the API.
            heavyJobsInThreads: true,
          });
          logger.info({ url: bo.url ?? null }, 'back office started');
          if (bo.url)
            console.log(`back office: ${bo.url}/ (API: ${bo.url}/openapi.json, metrics: ${bo.url}/metrics)`);
          onShutdown(async () => {
            await bo.stop();
            await store.close();
          });
        }),
    );
}

/** The launcher's entry for `campus-energy backoffice`. */
export async function runBackofficeCli(argv: readonly string[]): Promise<void> {
  const program = new Command('campus-energy').description('Campus energy back office');
  registerBackofficeCommand(program);
  await program.parseAsync([...argv]);
}
