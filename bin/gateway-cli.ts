/**
 * `campus-energy gateway`: one gateway's process. The launcher (bin/campus-energy.js) runs this
 * file alone for that command, so a gateway process loads what polling and publishing need and
 * nothing of the back office, ingest or the simulators (the whole CLI put about 50 MB on a gateway
 * at one meter). Anything only some gateways use is imported where it is used: the embedded broker
 * here, node-opcua by startGateway for a gateway with OPC UA devices. A test (test/gateway/
 * lean-entry.test.ts) runs this command and checks what it loaded.
 */
import { Command } from 'commander';
import { resolve } from 'node:path';
import { loadCampus } from '../config/campus.ts';
import { startGateway } from '../gateway/gateway.ts';
import { startGatewayMetrics } from '../gateway/metrics.ts';
import { createLogger } from '../gateway/log.ts';
import { collectStartupGarbage, tuneGatewayHeap } from '../gateway/heap.ts';
import type { MqttConnection } from '../adapters/mqtt/connection.ts';
import type { CampusBroker } from '../adapters/mqtt/campus-broker.ts';
import { gatewayUsername } from '../adapters/mqtt/acl.ts';
import { parseListenAddress } from '../services/platform/metrics/server.ts';
import {
  guarded,
  mqttFor,
  onShutdown,
  withEmbeddedBrokerOptions,
  type EmbeddedBrokerOptions,
} from './cli-shared.ts';

export function registerGatewayCommand(program: Command): void {
  const command = program
    .command('gateway')
    .description('Poll the meters of one gateway and publish every reading to MQTT')
    .requiredOption('-c, --config <file>', 'campus YAML file')
    .requiredOption('-g, --gateway <id>', 'gateway id in the campus file')
    .option('--mqtt <url>', 'broker URL (overrides the file)')
    .option('--outbox <file>', 'outbox SQLite file (overrides the file)')
    .option('--metrics <host:port>', 'serve Prometheus metrics here (e.g. 127.0.0.1:9464)');
  withEmbeddedBrokerOptions(command, 'port of the embedded broker when none is configured').action(
    (
      opts: EmbeddedBrokerOptions & {
        config: string;
        gateway: string;
        mqtt?: string;
        outbox?: string;
        metrics?: string;
      },
    ) =>
      guarded(async () => {
        tuneGatewayHeap();
        const campus = loadCampus(opts.config);
        const logger = createLogger(opts.logLevel);
        let mqtt: MqttConnection | undefined = mqttFor(campus, opts.mqtt);
        let broker: CampusBroker | undefined;
        const site = campus.config.sites.find((s) => s.gateways.some((g) => g.id === opts.gateway));
        if (!mqtt && site && process.env.CAMPUS_EMBEDDED_BROKER) {
          const { embeddedBrokerLogin } = await import('../adapters/mqtt/campus-broker.ts');
          // Under `campus-energy run`: the embedded broker is the supervisor's; log in to it.
          mqtt = embeddedBrokerLogin(
            campus,
            process.env.CAMPUS_EMBEDDED_BROKER,
            gatewayUsername(site.id, opts.gateway),
          );
        }
        if (!mqtt) {
          // Every client of the embedded broker logs in with an account of its own (generated into
          // the data folder, owner-only), under the same ACL as the mosquitto files.
          if (!site) throw new Error(`no gateway ${opts.gateway} in ${opts.config}`);
          // The embedded broker (aedes) is loaded only by a gateway that runs it.
          const { startCampusBroker } = await import('../adapters/mqtt/campus-broker.ts');
          broker = await startCampusBroker(campus, { port: opts.brokerPort });
          logger.info(
            { url: broker.url, credentials: broker.secretsFile },
            'no mqtt configured: embedded broker started (clients log in with the accounts in the credentials file)',
          );
          mqtt = broker.login(gatewayUsername(site.id, opts.gateway));
        }
        const gw = await startGateway({
          campus,
          gatewayId: opts.gateway,
          mqtt,
          logger,
          outboxPath: opts.outbox ? resolve(opts.outbox) : undefined,
        });
        // What validating the campus file and starting up left behind goes now, not at V8's
        // first full collection seconds later with the first polls' garbage on top (gateway/heap.ts).
        collectStartupGarbage();
        const metrics = opts.metrics
          ? await startGatewayMetrics({
              gateway: gw,
              ...(broker ? { broker } : {}),
              ...parseListenAddress(opts.metrics),
              logger,
            })
          : undefined;
        onShutdown(async () => {
          await metrics?.close();
          await gw.stop();
          await broker?.close();
        });
      }),
  );
}

/** The program of a gateway process: the `gateway` command alone (see the launcher). */
export async function runGatewayCli(argv: readonly string[]): Promise<void> {
  const program = new Command('campus-energy').description('Campus energy metering gateway');
  registerGatewayCommand(program);
  await program.parseAsync([...argv]);
}
