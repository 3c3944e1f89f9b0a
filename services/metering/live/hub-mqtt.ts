import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { MqttConnection } from '../../../adapters/mqtt/connection.ts';
import { TOPIC_ROOT } from '../../../config/schemas/reading.ts';

export type LiveMqttConnection = MqttConnection & { protocolVersion?: 4 | 5; clientId?: string };

export interface LiveSubscription {
  client: MqttClient;
  /** Resolves once the broker granted every filter; rejects if it refused one (ACL). */
  ready: Promise<void>;
}

const FILTERS = {
  [`${TOPIC_ROOT}/+/+/+/reading`]: { qos: 0 as const },
  [`${TOPIC_ROOT}/+/+/status`]: { qos: 0 as const },
  [`${TOPIC_ROOT}/+/+/device/+/health`]: { qos: 0 as const },
};

/**
 * The live view's MQTT client, subscribed at QoS 0 to every reading, gateway status and device
 * health on each connect (a clean session forgets subscriptions).
 */
export function subscribeLive(
  conn: LiveMqttConnection,
  log: Logger,
  onMessage: (topic: string, payload: Buffer) => void,
): LiveSubscription {
  const client: MqttClient = mqtt.connect(conn.url, {
    clientId: conn.clientId ?? `campus-energy-live-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    username: conn.username,
    password: conn.password,
    ...(conn.ca ? { ca: conn.ca } : {}),
    protocolVersion: conn.protocolVersion ?? 4,
    clean: true,
    reconnectPeriod: 1_000,
    // Subscribed again on every connect below (a clean session forgets it).
    resubscribe: false,
  });
  let markReady: () => void = () => {};
  let refuse: (err: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    refuse = reject;
  });
  // Whoever awaits `ready` hears of a refusal; nobody awaiting it must not crash the process.
  ready.catch(() => {});
  client.on('connect', () => client.subscribe(FILTERS, (err, granted) => onSuback(err, granted)));
  client.on('error', (err) => log.warn({ err: err.message }, 'live view MQTT error'));
  client.on('offline', () => log.warn('live view MQTT offline; reconnecting'));
  client.on('message', onMessage);

  function onSuback(
    err: Error | null | undefined,
    granted: { topic: string; qos: number }[] | undefined,
  ): void {
    // mqtt.js reports a refused filter (SUBACK 0x80) as an error, or as granted QoS 128.
    const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
    if (err && !('packet' in err) && refused.length === 0) {
      // Not an answer from the broker (the connection dropped): the next connect subscribes again.
      log.warn({ err: err.message }, 'live view subscription interrupted');
      return;
    }
    if (err || refused.length > 0) {
      const message = `the broker refused the live view subscription${refused.length ? ` to ${refused.join(', ')}` : ''} (${err?.message ?? 'SUBACK 0x80'}): connect as a principal that may read ${TOPIC_ROOT}/# (svc/monitor)`;
      log.error({ refused }, message);
      refuse(new Error(message));
      return;
    }
    markReady();
  }
  return { client, ready };
}
