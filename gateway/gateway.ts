import { dirname, join, resolve } from 'node:path';
import { existsSync, mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import type { LoadedCampus } from '../config/campus.ts';
import type { BusConfig, GatewayConfig } from '../config/schemas/campus.ts';
import {
  deviceHealthTopic,
  readingTopic,
  statusTopic,
  type GatewayStatus,
} from '../config/schemas/reading.ts';
import { openModbusTransport } from '../adapters/modbus/client.ts';
import { startPublisher, type Publisher } from '../adapters/mqtt/publisher.ts';
import type { MqttConnection } from '../adapters/mqtt/connection.ts';
import { Outbox } from './outbox/outbox.ts';
import { BusPoller } from './bus-poller.ts';
import { PollBatcher } from './poll-batcher.ts';
import { HealthPublisher } from './health-publisher.ts';
import type { OpcuaDevice } from './opcua-device.ts';
import { gatewayPkiDir } from './pki-dir.ts';
import { commandMetersOf, openSeenStore, startCommandHandler, type CommandHandler } from './commands.ts';
import { loadVerifyKey } from '../services/operations/control/commands.ts';
import { ensureGatewayKey } from '../services/operations/control/keys.ts';
import type { PollResult, RegisterTransport } from './types.ts';
import { allProfiles, fieldBusOf, openFieldLine, startTimeSync } from './field-line.ts';
import { startReplayService, type ReplayService } from './replay.ts';

/**
 * How long a clean stop waits for the outbox to drain to a connected broker: well inside the 4.5 s
 * a stop may take (bin/cli-shared.ts), which must also hold a poll in progress, the publisher's
 * own stop and the offline status.
 */
const STOP_DRAIN_MS = 2_000;
/** How often a stop's drain looks whether the broker is still there. */
const STOP_DRAIN_CHECK_MS = 50;

export interface GatewayOptions {
  campus: LoadedCampus;
  gatewayId: string;
  mqtt: MqttConnection;
  logger: Logger;
  /** Overrides the configured outbox file (tests). */
  outboxPath?: string;
  /** Overrides the campus's `control.publicKeyFile` (tests). */
  commandPublicKeyFile?: string;
  /** Overrides how a bus is opened (unit tests with fake transports). */
  openTransport?: (bus: BusConfig) => Promise<RegisterTransport>;
}

export interface RunningGateway {
  readonly id: string;
  readonly site: string;
  readonly buses: readonly BusPoller[];
  readonly opcua: readonly OpcuaDevice[];
  readonly outbox: Outbox;
  readonly publisher: Publisher;
  readonly replay: ReplayService;
  status(): GatewayStatus;
  /** Relay commands received, executed and refused since start (null: commands are disabled). */
  commandStats(): { received: number; executed: number; refused: number } | null;
  stop(): Promise<void>;
}

export function findGateway(
  campus: LoadedCampus,
  gatewayId: string,
): { site: string; gateway: GatewayConfig } {
  for (const site of campus.config.sites) {
    for (const gateway of site.gateways) if (gateway.id === gatewayId) return { site: site.id, gateway };
  }
  const known = campus.config.sites.flatMap((s) => s.gateways.map((g) => g.id));
  throw new Error(`gateway "${gatewayId}" is not in ${campus.file} (known: ${known.join(', ') || 'none'})`);
}

/**
 * Starts one gateway: a scheduler per bus, every poll result through the disk outbox (which
 * numbers it), and the publisher that drains the outbox to MQTT and deletes only after PUBACK.
 */
export async function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  const { campus, logger } = opts;
  const { site, gateway } = findGateway(campus, opts.gatewayId);
  const log = logger.child({ gateway: gateway.id });
  const startedAt = Date.now();
  // node-opcua is loaded only by gateways that read OPC UA: it is large, and most gateways poll
  // Modbus lines only. Loaded before anything starts, so no event runs half-way through start-up.
  const opcuaModule = gateway.opcua.length > 0 ? await import('./opcua-device.ts') : undefined;
  if (opcuaModule) (await import('../adapters/opcua/logging.ts')).routeOpcuaLogs(log);

  // A configured path is relative to the campus file, like dataDir.
  const outboxPath =
    opts.outboxPath ??
    (gateway.outbox.path
      ? resolve(dirname(campus.file), gateway.outbox.path)
      : join(campus.dataDir, `${gateway.id}-outbox.sqlite`));
  mkdirSync(join(outboxPath, '..'), { recursive: true });
  const outbox = Outbox.open({
    path: outboxPath,
    maxBytes: gateway.outbox.maxBytes,
    keepMs: gateway.outbox.keep,
    keepMaxBytes: gateway.outbox.keepMaxBytes,
  });

  const topic = statusTopic(site, gateway.id);
  const offline: GatewayStatus = { gateway: gateway.id, state: 'offline', ts: startedAt };
  const publisher = await startPublisher({
    url: opts.mqtt.url,
    username: opts.mqtt.username,
    password: opts.mqtt.password,
    ...(opts.mqtt.ca ? { ca: opts.mqtt.ca } : {}),
    // On a broker that binds ids to accounts, the username is the id of this account's one session.
    clientId: opts.mqtt.username ?? `campus-energy-gw-${gateway.id}`,
    outbox,
    statusTopic: topic,
    willPayload: JSON.stringify(offline),
    onlinePayload: () => JSON.stringify(status()),
    maxInFlight: gateway.outbox.maxInFlight,
    replayRatePerSec: gateway.outbox.replayRatePerSec,
    logger: log, // the publisher names its own component
  });

  const topics = new Map<string, string>();
  const batcher = new PollBatcher({
    outbox,
    topicOf: (meter) => {
      let topic = topics.get(meter);
      if (topic === undefined) topics.set(meter, (topic = readingTopic(site, gateway.id, meter)));
      return topic;
    },
    logger: log.child({ component: 'outbox' }),
  });
  const onResult = (meter: { readonly id: string }, result: PollResult) => batcher.add(meter, result);

  const openTransport =
    opts.openTransport ??
    ((bus: BusConfig) => {
      const line = fieldBusOf(bus);
      if (line) return openFieldLine(line);
      return openModbusTransport(
        bus,
        bus.id,
        bus.type === 'modbus-tcp' ? {} : { resyncDelayMs: bus.resyncDelay },
      );
    });
  const profiles = allProfiles(campus);
  const buses = gateway.buses.map(
    (bus) =>
      new BusPoller({
        bus,
        profiles,
        openTransport: () => openTransport(bus),
        onResult,
        logger: log.child({ component: 'bus' }),
      }),
  );

  // OPC UA servers (substations): readings through the same batcher, outbox and topics.
  const pkiDir = gatewayPkiDir(campus, gateway.id);
  const opcua = gateway.opcua.map((device) => {
    let password: string | undefined;
    if (device.identity.type === 'username') {
      password = process.env[device.identity.passwordEnv];
      if (password === undefined) {
        throw new Error(
          `OPC UA device ${device.id}: identity.passwordEnv names ${device.identity.passwordEnv}, which is not set in the environment`,
        );
      }
    }
    return new opcuaModule!.OpcuaDevice({
      device,
      pkiDir,
      password,
      resolveFile: (p) => resolve(dirname(campus.file), p),
      onResult,
      logger: log.child({ component: 'opcua', device: device.id }),
      trustCommand: `campus-energy opcua trust --config ${campus.file} --gateway ${gateway.id}`,
    });
  });

  function status(): GatewayStatus {
    return {
      gateway: gateway.id,
      state: 'online',
      ts: Date.now(),
      startedAt,
      meters:
        buses.reduce((n, b) => n + b.targets.length, 0) + opcua.reduce((n, d) => n + d.meters.length, 0),
      // Readings the disk refused for too long count as dropped, like those evicted when full.
      outbox: (({ dropped, ...rest }) => ({ ...rest, dropped: dropped + batcher.lost }))(outbox.stats()),
    };
  }

  const health = new HealthPublisher(
    [...buses.flatMap((b) => b.targets.map((t) => t.health)), ...opcua.map((d) => d.health)],
    (device, payload) =>
      void publisher.publishRetained(deviceHealthTopic(site, gateway.id, device.device), payload),
  );
  // From a timer: the outbox's figures come from its disk, which can fail; a throw here would end
  // the gateway and its polling, so it is logged and the next tick tries again.
  const publishHealth = () => {
    try {
      void publisher.publishRetained(topic, JSON.stringify(status()));
      health.run(Date.now());
    } catch (err) {
      log.error(
        { err: err instanceof Error ? err.message : String(err) },
        'publishing health failed; tried again at the next interval',
      );
    }
  };
  const healthTimer = setInterval(publishHealth, gateway.healthInterval);
  healthTimer.unref();

  // Relay commands: only with the control service's public key can a command be verified, so
  // without it the gateway takes none (and says so).
  const keyFile = opts.commandPublicKeyFile ?? resolve(campus.dataDir, campus.config.control.publicKeyFile);
  const relayMeters = commandMetersOf(buses);
  const hasRelays = [...relayMeters.values()].some(
    (m) => m.switchField || ('relay' in m.profile && m.profile.relay),
  );
  let commands: CommandHandler | null = null;
  let seenStore: ReturnType<typeof openSeenStore> | null = null;
  if (hasRelays && existsSync(keyFile)) {
    seenStore = openSeenStore(join(dirname(outboxPath), `${gateway.id}-commands.sqlite`));
    commands = startCommandHandler({
      subscribe: (filter, on) => publisher.subscribe(filter, on),
      publish: (topic, payload) => publisher.publish(topic, payload),
      site,
      gateway: gateway.id,
      meters: relayMeters,
      publicKey: loadVerifyKey({ file: keyFile }),
      // The gateway's own key signs its acks: the control service trusts no other.
      ackKey: ensureGatewayKey(campus, site, gateway.id),
      logger: log,
      seenStore,
    });
  } else if (hasRelays) {
    log.warn({ keyFile }, 'relay commands disabled: no control public key');
  }

  const replay = startReplayService({
    site,
    gateway: gateway.id,
    outbox,
    meters: new Set([
      ...buses.flatMap((b) => b.targets.map((t) => t.meter.id)),
      ...gateway.opcua.flatMap((d) => d.meters.map((m) => m.id)),
    ]),
    subscribe: (filter, on) => publisher.subscribe(filter, on),
    publish: (t, payload) => publisher.publish(t, payload),
    publishRetained: (t, payload) => publisher.publishRetained(t, payload),
    announceEveryMs: gateway.outbox.announceInterval,
    logger: log,
  });

  for (const bus of buses) bus.start();
  const stopTimeSync = startTimeSync(buses, gateway.buses, log.child({ component: 'time-sync' }));
  for (const device of opcua) device.start();
  log.info(
    { buses: buses.length, opcua: opcua.length, meters: status().meters, outbox: outboxPath },
    'gateway started',
  );

  return {
    id: gateway.id,
    site,
    buses,
    opcua,
    outbox,
    publisher,
    replay,
    status,
    commandStats: () => commands?.stats() ?? null,
    async stop() {
      clearInterval(healthTimer);
      replay.stop();
      stopTimeSync();
      await commands?.stop();
      seenStore?.close();
      await Promise.all([...buses.map((b) => b.stop()), ...opcua.map((d) => d.stop())]);
      batcher.close();
      // Readings already taken get a short chance to leave; whatever does not stays in the
      // outbox and goes out on the next start.
      await drainWhileConnected(publisher, STOP_DRAIN_MS);
      await publisher.stop();
      outbox.close();
      log.info('gateway stopped');
    },
  };
}

/**
 * Waits for the outbox to drain, at most `timeoutMs`, and only while a broker is connected: with
 * none (never reached, or lost during the stop) nothing can drain, and waiting out the timeout
 * made a gateway miss its stop deadline and exit 1. Every reading is committed in the outbox
 * before it is published, so what does not leave now leaves on the next start.
 */
async function drainWhileConnected(publisher: Publisher, timeoutMs: number): Promise<void> {
  if (!publisher.stats().connected) return;
  let check: NodeJS.Timeout | undefined;
  const lost = new Promise<void>((resolve) => {
    check = setInterval(() => {
      if (!publisher.stats().connected) resolve();
    }, STOP_DRAIN_CHECK_MS);
  });
  try {
    await Promise.race([publisher.drained(timeoutMs), lost]);
  } finally {
    clearInterval(check);
  }
}
