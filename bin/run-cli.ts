import { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { loadCampus } from '../config/campus.ts';
import { createLogger } from '../gateway/log.ts';
import { startCampusBroker, type CampusBroker } from '../adapters/mqtt/campus-broker.ts';
import {
  startSupervisor,
  type ChildSpec,
  type Supervisor,
} from '../services/platform/supervisor/supervisor.ts';
import { embeddedBrokerFamilies } from '../gateway/metrics.ts';
import type { MetricFamily } from '../services/platform/metrics/exposition.ts';
import { processFamilies } from '../services/platform/metrics/process.ts';
import { parseListenAddress, startMetricsServer } from '../services/platform/metrics/server.ts';
import { guarded, onShutdown, withEmbeddedBrokerOptions, type EmbeddedBrokerOptions } from './cli-shared.ts';

interface RunHelpers {
  guarded(fn: () => Promise<void>): Promise<void>;
  onShutdown(stop: () => Promise<void>): void;
}

/** The launcher every part is started through, as an operator would start it. */
const LAUNCHER = fileURLToPath(new URL('./campus-energy.js', import.meta.url));

/**
 * `campus-energy run`: a real campus in one command — each gateway, ingest and the back office as
 * supervised child processes (services/platform/supervisor/), on the embedded broker unless the
 * campus file or --mqtt names one, into the store the campus file names (embedded SQLite by
 * default). The embedded broker lives in this process, which does nothing else: its event loop
 * is never the one that polls, stores or runs detection.
 */
export function registerRunCommand(program: Command, h: RunHelpers): void {
  const command = program
    .command('run')
    .description('Run a campus: every gateway, ingest and the back office, supervised, on embedded defaults')
    .requiredOption('-c, --config <file>', 'campus YAML file')
    .option('--mqtt <url>', 'external broker URL (overrides the file; default: the embedded broker)')
    .option(
      '--influx <url>',
      'store readings in this InfluxDB 1.x (overrides the file; default: the file’s store)',
    )
    .option('--http <host:port>', 'back-office address', '127.0.0.1:8080')
    .option('--insecure-cookie', 'session cookie without Secure (plain http on a LAN address)')
    .option(
      '--metrics <host:port>',
      "serve the supervisor's metrics here (parts up and restarted, the embedded broker's refusals); ingest and then each gateway serve theirs on the following ports",
    );
  withEmbeddedBrokerOptions(command, 'embedded broker port (127.0.0.1 only)').action(
    (
      opts: EmbeddedBrokerOptions & {
        config: string;
        mqtt?: string;
        influx?: string;
        http: string;
        insecureCookie?: boolean;
        metrics?: string;
      },
    ) =>
      h.guarded(async () => {
        const campus = loadCampus(opts.config);
        const logger = createLogger(opts.logLevel);
        let broker: CampusBroker | undefined;
        const env: NodeJS.ProcessEnv = { ...process.env };
        if (opts.influx) {
          if (!/^https?:\/\//.test(opts.influx))
            throw new Error(`--influx: expected http:// or https://, got ${opts.influx}`);
          env.CAMPUS_INFLUX_URL = opts.influx;
        }
        const common = ['-c', campus.file, '--log-level', opts.logLevel];
        const mqttArgs = opts.mqtt ? ['--mqtt', opts.mqtt] : [];
        if (!opts.mqtt && !campus.config.mqtt) {
          broker = await startCampusBroker(campus, { port: opts.brokerPort });
          // Each part logs in to this broker with its own account from the credentials file.
          env.CAMPUS_EMBEDDED_BROKER = broker.url;
        }
        const node = process.execPath;
        // Every process exports its own figures (event-loop lag above all): ingest on the port
        // after the supervisor's, each gateway on the next ones; the back office on its --http.
        const partMetrics = metricsPorts(opts.metrics);
        const gatewayIds = campus.config.sites.flatMap((site) => site.gateways.map((g) => g.id));
        const children: ChildSpec[] = [
          {
            name: 'ingest',
            command: node,
            // The embedded broker (Aedes) speaks MQTT 3.1.1: no refused MQTT 5 connection and
            // its two warnings at every start of the default install.
            args: [
              LAUNCHER,
              'ingest',
              ...common,
              ...mqttArgs,
              ...(broker ? ['--protocol', '4'] : []),
              ...partMetrics(0),
            ],
            env,
          },
          ...gatewayIds.map((id, i) => ({
            name: `gateway ${id}`,
            command: node,
            args: [LAUNCHER, 'gateway', ...common, '-g', id, ...mqttArgs, ...partMetrics(i + 1)],
            env,
          })),
          {
            name: 'backoffice',
            command: node,
            args: [
              LAUNCHER,
              'backoffice',
              ...common,
              ...mqttArgs,
              '--http',
              opts.http,
              ...(opts.insecureCookie ? ['--insecure-cookie'] : []),
            ],
            env,
          },
        ];
        const supervisor = startSupervisor({ children, logger });
        const metrics = opts.metrics
          ? await startMetricsServer({
              collect: () => runFamilies(supervisor, broker),
              ...parseListenAddress(opts.metrics),
              logger,
            })
          : undefined;
        console.log(`campus-energy run: ${campus.config.campus.name}`);
        console.log(
          `  broker: ${broker ? `${broker.url} (embedded; accounts in ${broker.secretsFile})` : (opts.mqtt ?? campus.config.mqtt?.url)}`,
        );
        console.log(`  parts: ${children.map((c) => c.name).join(', ')} (each restarted alone if it fails)`);
        console.log(`  store: ${opts.influx ?? campus.config.storage.influx?.url ?? 'embedded SQLite'}`);
        console.log(`  back office: http://${opts.http}/`);
        h.onShutdown(async () => {
          await metrics?.close();
          await supervisor.stop();
          await broker?.close();
        });
      }),
  );
}

/** `--metrics` for the part at `index` (ingest 0, then the gateways): the supervisor's port + 1 + index. */
function metricsPorts(supervisor: string | undefined): (index: number) => string[] {
  if (!supervisor) return () => [];
  const { host, port } = parseListenAddress(supervisor);
  // Port 0 picks a free port for the supervisor; the parts' ports cannot follow from it.
  if (port === 0) return () => [];
  return (index) => ['--metrics', `${host.includes(':') ? `[${host}]` : host}:${port + 1 + index}`];
}

/** The supervisor's own metrics: each part up or not and how often it was restarted, and what the embedded broker refused. */
function runFamilies(supervisor: Supervisor, broker: CampusBroker | undefined): MetricFamily[] {
  const parts = supervisor.stats();
  return [
    {
      name: 'campus_energy_part_up',
      type: 'gauge',
      help: 'Whether the part (a gateway, ingest, the back office) is running',
      samples: parts.map((p) => ({ labels: { part: p.name }, value: p.running ? 1 : 0 })),
    },
    {
      name: 'campus_energy_part_restarts_total',
      type: 'counter',
      help: 'Times the supervisor restarted the part after it exited',
      samples: parts.map((p) => ({ labels: { part: p.name }, value: p.restarts })),
    },
    ...(broker ? embeddedBrokerFamilies({ host: 'run' }, broker.refused()) : []),
    // The supervisor carries the embedded broker: its event loop is on the readings' path too.
    ...processFamilies('supervisor'),
  ];
}

/**
 * The launcher's entry for `campus-energy run`: the supervisor loads what it runs (the embedded
 * broker and the supervisor), not the whole CLI, so the parts start seconds sooner.
 */
export async function runRunCli(argv: readonly string[]): Promise<void> {
  const program = new Command('campus-energy').description('Campus energy: a supervised campus');
  registerRunCommand(program, { guarded, onShutdown });
  await program.parseAsync([...argv]);
}
