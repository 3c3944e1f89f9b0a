import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { ReadingSchema } from '../../config/schemas/reading.ts';
import type { Reading } from '../../config/schemas/reading.ts';

/** A small reading consumer for tests and tools: subscribes at QoS 1 and validates every payload. */

export interface SubscribeReadingsOptions {
  url: string;
  /** Topic filter, e.g. `campus/v1/+/+/+/reading`. */
  topic: string;
  clientId?: string;
  username?: string;
  password?: string;
  /** For mqtts://: the CA (PEM) that signed the broker's certificate. */
  ca?: string | Buffer;
  /** false keeps the session (and the broker's queue for it) across disconnects; default true. */
  clean?: boolean;
  reconnectPeriodMs?: number;
  /** Called for each valid reading, in the argument order of mqtt.js's 'message' event. */
  onReading?: (topic: string, reading: Reading) => void;
  /** Called for each message that is not JSON or fails ReadingSchema, with the reason. */
  onInvalid?: (topic: string, reason: string) => void;
}

export interface InvalidMessage {
  topic: string;
  payload: string;
  error: string;
}

export interface ReadingSubscription {
  client: MqttClient;
  /** Every valid reading received, duplicates included, in arrival order. */
  readings: Reading[];
  invalid: InvalidMessage[];
  close(): Promise<void>;
}

/** Resolves once the subscription is acknowledged by the broker. */
export async function subscribeReadings(options: SubscribeReadingsOptions): Promise<ReadingSubscription> {
  const client = mqtt.connect(options.url, {
    clientId: options.clientId ?? `readings-${process.pid}-${Math.random().toString(16).slice(2, 10)}`,
    username: options.username,
    password: options.password,
    ...(options.ca ? { ca: options.ca } : {}),
    clean: options.clean ?? true,
    reconnectPeriod: options.reconnectPeriodMs ?? 200,
  });
  const readings: Reading[] = [];
  const invalid: InvalidMessage[] = [];
  client.on('message', (topic, payload) => {
    const text = payload.toString('utf8');
    const reject = (error: string) => {
      invalid.push({ topic, payload: text, error });
      options.onInvalid?.(topic, error);
    };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      reject((err as Error).message);
      return;
    }
    const parsed = ReadingSchema.safeParse(json);
    if (!parsed.success) {
      reject(parsed.error.message);
      return;
    }
    readings.push(parsed.data);
    options.onReading?.(topic, parsed.data);
  });
  // Listening for errors keeps a refused connection from becoming an unhandled 'error' event.
  client.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => {
      client.subscribe(options.topic, { qos: 1 }, (err) => (err ? reject(err) : resolve()));
    });
  });
  return {
    client,
    readings,
    invalid,
    close: () => new Promise<void>((resolve) => client.end(true, {}, () => resolve())),
  };
}

/**
 * Drops duplicates the way a consumer should: per meter, a reading whose `seq` is not above the
 * highest seen is a resend. Returns the readings kept, in arrival order.
 */
export function dropDuplicates(readings: readonly Reading[]): Reading[] {
  const last = new Map<string, number>();
  const kept: Reading[] = [];
  for (const reading of readings) {
    const seen = last.get(reading.meter);
    if (seen !== undefined && reading.seq <= seen) continue;
    last.set(reading.meter, reading.seq);
    kept.push(reading);
  }
  return kept;
}
