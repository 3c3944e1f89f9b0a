import type { MqttClient } from 'mqtt';

/**
 * How an MQTT client of ours retries a refused or lost connection: the delay doubles from `baseMs`
 * up to `capMs`, each drawn at random in its upper half so that a campus of gateways does not
 * reconnect in lockstep after a broker restart. The cap is what bounds how late a client is back
 * after the broker is: a broker back at any moment is tried within `capMs` (plus the connect
 * itself), so the default of 1.5 s keeps every client within 2 s of it. The cost of a short cap is
 * one refused TCP connection per client per 1.5 s while the broker is down, which a broker's
 * host takes without noticing at campus scale (a thousand gateways: under 700 connections a second).
 */
export interface ReconnectPolicy {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_RECONNECT: ReconnectPolicy = { baseMs: 200, capMs: 1500 };

/** The delay before attempt `attempt` (1 = the first retry), for a random number in [0, 1). */
export function reconnectDelay(policy: ReconnectPolicy, attempt: number, random: number): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  return Math.round(ceiling * (0.5 + 0.5 * random));
}

export interface ReconnectCounter {
  /** Connection attempts that were refused or failed, and connections lost, since the start. */
  failures: number;
  /** Attempts made after a failure or a loss. */
  retries: number;
}

/**
 * Applies `policy` to a client made with `reconnectPeriod: policy.baseMs`: mqtt.js arms its retry
 * timer from `options.reconnectPeriod` after each failed attempt, so the option is set before it
 * does. Returns the counts, which the process exports as metrics.
 */
export function applyReconnectPolicy(
  client: MqttClient,
  policy: ReconnectPolicy = DEFAULT_RECONNECT,
  random: () => number = Math.random,
): ReconnectCounter {
  const counter: ReconnectCounter = { failures: 0, retries: 0 };
  let attempt = 0;
  client.options.reconnectPeriod = reconnectDelay(policy, 1, random());
  client.on('connect', () => {
    attempt = 0;
    client.options.reconnectPeriod = reconnectDelay(policy, 1, random());
  });
  // mqtt.js's own close listener (registered first) has armed the timer for this failure already;
  // this sets the delay after the next one.
  client.on('close', () => {
    if (client.disconnecting) return; // our own end()
    counter.failures += 1;
    attempt += 1;
    client.options.reconnectPeriod = reconnectDelay(policy, attempt + 1, random());
  });
  client.on('reconnect', () => {
    counter.retries += 1;
  });
  return counter;
}
