import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { COMMAND_ACK_FILTER, commandTopic, type SignedRelayCommand } from './commands.ts';
import type { AckOutcome } from './relay-control.ts';

/**
 * The control service's MQTT connection (user `svc/control`): publishes signed commands at QoS 1
 * and takes every gateway's acks. Build it first, pass `send` to RelayControl, then route acks:
 *
 *   const link = await connectControlMqtt({ url, username, password, logger });
 *   const control = new RelayControl({ ..., send: link.send });
 *   link.onAck((topic, payload) => control.handleAck(topic, payload));
 */
export interface ControlMqttOptions {
  url: string;
  username?: string;
  password?: string;
  /** For mqtts://: the CA (PEM) that signed the broker's certificate. */
  ca?: string | Buffer;
  clientId?: string;
  logger: Logger;
}

export interface ControlMqtt {
  client: MqttClient;
  send(command: SignedRelayCommand): Promise<void>;
  onAck(handler: (topic: string, payload: Buffer) => AckOutcome | void): void;
  close(): Promise<void>;
}

export async function connectControlMqtt(options: ControlMqttOptions): Promise<ControlMqtt> {
  const log = options.logger.child({ component: 'control-mqtt' });
  const client = mqtt.connect(options.url, {
    clientId: options.clientId ?? 'campus-energy-control',
    username: options.username,
    password: options.password,
    ...(options.ca ? { ca: options.ca } : {}),
    // A persistent session keeps acks that arrive while the service restarts.
    clean: false,
    reconnectPeriod: 1000,
  });
  client.on('error', (err) => log.warn({ err: err.message }, 'mqtt client error'));
  let handler: ((topic: string, payload: Buffer) => AckOutcome | void) | null = null;
  const early: [string, Buffer][] = [];
  client.on('message', deliver);
  function deliver(topic: string, payload: Buffer): void {
    if (!handler) {
      early.push([topic, payload]);
      return;
    }
    try {
      const outcome = handler(topic, payload);
      if (outcome && outcome.kind !== 'recorded') log.warn({ topic, outcome }, 'unexpected relay ack');
    } catch (err) {
      log.error({ topic, err: (err as Error).message }, 'could not record a relay ack');
    }
  }
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () =>
      client.subscribe(COMMAND_ACK_FILTER, { qos: 1 }, (err) => (err ? reject(err) : resolve())),
    );
  });
  return {
    client,
    send: (command) =>
      new Promise<void>((resolve, reject) => {
        client.publish(
          commandTopic(command.site, command.gateway, command.meter),
          JSON.stringify(command),
          { qos: 1 },
          (err) => (err ? reject(err) : resolve()),
        );
      }),
    onAck(h) {
      handler = h;
      for (const [topic, payload] of early.splice(0)) deliver(topic, payload);
    },
    // A graceful end waits for the PUBACK of every message still queued, which never comes
    // without a broker (under `campus-energy run` it dies with the supervisor that stops us).
    close: () => new Promise<void>((resolve) => client.end(!client.connected, {}, () => resolve())),
  };
}
