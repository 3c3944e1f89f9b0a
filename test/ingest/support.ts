import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { readingTopic, type Reading } from '../../config/schemas/reading.ts';
import type { RegisteredMeter } from '../../services/metering/ingest/validate.ts';
import type { ReadingWriter, StoredReading } from '../../services/metering/storage.ts';

/** A registry of `n` electricity meters `E-<i>` on site `east`, gateway `gw<i % gateways>`. */
export function registry(n: number, gateways = 2): Map<string, RegisteredMeter> {
  const out = new Map<string, RegisteredMeter>();
  for (let i = 1; i <= n; i++) {
    out.set(`E-${i}`, { site: 'east', gateway: `gw${i % gateways}`, kind: 'electricity' });
  }
  return out;
}

export function goodReading(meter: string, seq: number, ts = 1_764_230_400_000 + seq * 1000): Reading {
  return {
    meter,
    ts,
    seq,
    quality: 'good',
    values: { energy_import_kwh: 1000 + seq / 100, power_kw: 0.412, voltage_v: 229.8 },
  };
}

export interface Message {
  topic: string;
  payload: Buffer | string;
}

/** A valid message for meter `meter` of `reg`. */
export function goodMessage(reg: ReadonlyMap<string, RegisteredMeter>, meter: string, seq: number): Message {
  const place = reg.get(meter)!;
  return {
    topic: readingTopic(place.site, place.gateway, meter),
    payload: JSON.stringify(goodReading(meter, seq)),
  };
}

/** (meter, seq) of a reading as one string. */
export const keyOf = (r: { meter: string; seq: number }): string => `${r.meter}#${r.seq}`;

/**
 * An in-memory ReadingWriter, idempotent per (meter, seq) like the real stores. `gate` holds every
 * write until opened; `failures` makes that many writes reject.
 */
export class FakeWriter implements ReadingWriter {
  readonly stored = new Map<string, StoredReading>();
  /** Readings per call, in call order. */
  readonly calls: number[] = [];
  failures = 0;
  delayMs = 0;
  private gateOpen = true;
  private waiters: (() => void)[] = [];

  close(): void {
    this.gateOpen = false;
  }
  open(): void {
    this.gateOpen = true;
    for (const w of this.waiters.splice(0)) w();
  }

  async writeReadings(readings: readonly StoredReading[]): Promise<void> {
    this.calls.push(readings.length);
    if (!this.gateOpen) await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('store unavailable (test)');
    }
    for (const r of readings) if (!this.stored.has(keyOf(r))) this.stored.set(keyOf(r), r);
  }
}

export interface TestPublisher {
  client: MqttClient;
  /** Publishes at QoS 1 with at most `window` unacknowledged; resolves when all are acked. */
  publishAll(messages: Iterable<Message>, window?: number): Promise<void>;
  close(): Promise<void>;
}

export async function testPublisher(
  url: string,
  clientId = `pub-${process.pid}-${Math.random()}`,
): Promise<TestPublisher> {
  const client = mqtt.connect(url, { clientId, clean: true, reconnectPeriod: 200 });
  client.on('error', () => undefined);
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  return {
    client,
    async publishAll(messages, window = 200) {
      const it = messages[Symbol.iterator]();
      await new Promise<void>((resolve, reject) => {
        let inFlight = 0;
        let done = false;
        const pump = (): void => {
          while (!done && inFlight < window) {
            const next = it.next();
            if (next.done) {
              done = true;
              break;
            }
            inFlight += 1;
            client.publish(next.value.topic, next.value.payload, { qos: 1 }, (err) => {
              inFlight -= 1;
              if (err) reject(err);
              else pump();
            });
          }
          if (done && inFlight === 0) resolve();
        };
        pump();
      });
    },
    close: () => new Promise<void>((resolve) => client.end(true, {}, () => resolve())),
  };
}

export { prng } from '../helpers/prng.ts';

/** What a SqliteStore file holds: readings in total, and distinct (meter, seq) among them. */
export function sqliteCounts(path: string): { rows: number; distinct: number; keys: Set<string> } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare('SELECT m.name AS meter, r.seq AS seq FROM readings r JOIN meters m ON m.id = r.meter_id')
      .all() as { meter: string; seq: number }[];
    const keys = new Set(rows.map(keyOf));
    return { rows: rows.length, distinct: keys.size, keys };
  } finally {
    db.close();
  }
}
