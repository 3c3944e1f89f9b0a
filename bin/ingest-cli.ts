import { Command, Option } from 'commander';
import { loadCampus } from '../config/campus.ts';
import { createLogger } from '../gateway/log.ts';
import { embeddedBrokerLogin } from '../adapters/mqtt/embedded-login.ts';
import { SERVICE_USERS } from '../adapters/mqtt/acl.ts';
import { runIngest } from '../services/metering/ingest/run.ts';
import { startIngestMetrics } from '../services/metering/ingest/metrics.ts';
import { parseListenAddress } from '../services/platform/metrics/server.ts';
import { guarded, mqttFor, onShutdown } from './cli-shared.ts';

/**
 * `campus-energy ingest` as a program of its own (the launcher starts it directly, as it does the
 * gateway): a part that `campus-energy run` restarts after a crash should be storing again in the
 * seconds its own modules take to load, not after the back office, the simulators and every other
 * command of the whole CLI are loaded too (about 2.7 s against 7.7 s under tsx on an idle machine,
 * and several times that on a loaded one).
 */
export function registerIngestCommand(program: Command): void {
  program
    .command('ingest')
    .description('Store every reading from MQTT in the configured store (InfluxDB or embedded SQLite)')
    .requiredOption('-c, --config <file>', 'campus YAML file')
    .option('--mqtt <url>', 'broker URL (overrides the file)')
    .option('--instance <name>', 'instance name; several instances share the load', '1')
    .option('--metrics <host:port>', 'serve Prometheus metrics here')
    .addOption(
      new Option('--protocol <version>', 'MQTT version: auto asks for 5 and falls back to 3.1.1')
        .choices(['auto', '4', '5'])
        .default('auto'),
    )
    .addOption(new Option('--log-level <level>').default('info'))
    .action(
      (opts: {
        config: string;
        mqtt?: string;
        instance: string;
        metrics?: string;
        protocol: 'auto' | '4' | '5';
        logLevel: string;
      }) =>
        guarded(async () => {
          const campus = loadCampus(opts.config);
          const logger = createLogger(opts.logLevel);
          // No mqtt section: the embedded broker of `campus-energy gateway` (its default port unless
          // --mqtt says otherwise), with ingest's account from the credentials that broker wrote.
          const mqtt = campus.config.mqtt
            ? mqttFor(campus, opts.mqtt)!
            : embeddedBrokerLogin(
                campus,
                opts.mqtt ?? process.env.CAMPUS_EMBEDDED_BROKER ?? 'mqtt://127.0.0.1:1883',
                SERVICE_USERS.ingest,
              );
          const running = await runIngest(campus, mqtt, {
            logger,
            instance: opts.instance,
            protocolVersion: opts.protocol === 'auto' ? 'auto' : opts.protocol === '4' ? 4 : 5,
          });
          const metrics = opts.metrics
            ? await startIngestMetrics({ running, ...parseListenAddress(opts.metrics), logger })
            : undefined;
          onShutdown(async () => {
            await metrics?.close();
            await running.stop();
          });
          // A broker that is down is waited for (retried, counted in the metrics); one that refuses
          // ingest for good fails the start, so that a supervisor sees it and no one waits on it.
          logger.info({ url: mqtt.url }, 'ingest connecting');
          await running.ingest.ready;
          const s = running.ingest.stats();
          logger.info(
            {
              store: campus.config.storage.influx ? 'influx' : 'sqlite',
              mqtt: s.protocolVersion === 5 ? '5' : '3.1.1',
            },
            'ingest started',
          );
        }),
    );
}

/** The launcher's entry for `campus-energy ingest`. */
export async function runIngestCli(argv: readonly string[]): Promise<void> {
  const program = new Command('campus-energy').description('Campus energy metering ingest');
  registerIngestCommand(program);
  await program.parseAsync([...argv]);
}
