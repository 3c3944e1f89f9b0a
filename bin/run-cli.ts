import { type Command, Option } from 'commander';
import { fileURLToPath } from 'node:url';
import { loadCampus } from '../config/campus.ts';
import { createLogger } from '../gateway/log.ts';
import { startCampusBroker, type CampusBroker } from '../adapters/mqtt/campus-broker.ts';
import { startSupervisor, type ChildSpec } from '../services/platform/supervisor/supervisor.ts';

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
  program
    .command('run')
    .description('Run a campus: every gateway, ingest and the back office, supervised, on embedded defaults')
    .requiredOption('-c, --config <file>', 'campus YAML file')
    .option('--mqtt <url>', 'external broker URL (overrides the file; default: the embedded broker)')
    .option('--http <host:port>', 'back-office address', '127.0.0.1:8080')
    .option('--insecure-cookie', 'session cookie without Secure (plain http on a LAN address)')
    .addOption(
      new Option('--broker-port <port>', 'embedded broker port (127.0.0.1 only)')
        .default('1883')
        .argParser(Number),
    )
    .addOption(new Option('--log-level <level>').default('info'))
    .action(
      (opts: {
        config: string;
        mqtt?: string;
        http: string;
        insecureCookie?: boolean;
        brokerPort: number;
        logLevel: string;
      }) =>
        h.guarded(async () => {
          const campus = loadCampus(opts.config);
          const logger = createLogger(opts.logLevel);
          let broker: CampusBroker | undefined;
          const env: NodeJS.ProcessEnv = { ...process.env };
          const common = ['-c', campus.file, '--log-level', opts.logLevel];
          const mqttArgs = opts.mqtt ? ['--mqtt', opts.mqtt] : [];
          if (!opts.mqtt && !campus.config.mqtt) {
            broker = await startCampusBroker(campus, { port: opts.brokerPort });
            // Each part logs in to this broker with its own account from the credentials file.
            env.CAMPUS_EMBEDDED_BROKER = broker.url;
          }
          const node = process.execPath;
          const children: ChildSpec[] = [
            { name: 'ingest', command: node, args: [LAUNCHER, 'ingest', ...common, ...mqttArgs], env },
            ...campus.config.sites.flatMap((site) =>
              site.gateways.map((g) => ({
                name: `gateway ${g.id}`,
                command: node,
                args: [LAUNCHER, 'gateway', ...common, '-g', g.id, ...mqttArgs],
                env,
              })),
            ),
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
          console.log(`campus-energy run: ${campus.config.campus.name}`);
          console.log(
            `  broker: ${broker ? `${broker.url} (embedded; accounts in ${broker.secretsFile})` : (opts.mqtt ?? campus.config.mqtt?.url)}`,
          );
          console.log(
            `  parts: ${children.map((c) => c.name).join(', ')} (each restarted alone if it fails)`,
          );
          console.log(`  back office: http://${opts.http}/`);
          h.onShutdown(async () => {
            await supervisor.stop();
            await broker?.close();
          });
        }),
    );
}
