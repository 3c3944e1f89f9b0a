import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports for servers a test starts in another process. A port from `listen(0)` comes from the
 * kernel's ephemeral range, the same range every outgoing connection of the whole parallel suite
 * takes its local port from: in the seconds between closing the probe and a child process
 * binding, a client socket of another test could hold it, and the child (a back office, say)
 * failed to bind and restarted until the test gave up. So ports are drawn at random from below
 * the ephemeral range, where neither `listen(0)` nor `connect()` ever lands, and checked bindable.
 */
const ephemeralLow = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 32_768;
  }
})();
const LOW = 10_000;
const HIGH = Math.max(LOW + 1_000, Math.min(ephemeralLow, 65_536));

/** Whether `port` can be bound on `host` now. */
export function bindable(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once('error', () => resolve(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** `n` consecutive ports that were free a moment ago; returns the first. */
export async function freePortRun(n: number, host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = LOW + Math.floor(Math.random() * (HIGH - LOW - n));
    const ok = await Promise.all(Array.from({ length: n }, (_, i) => bindable(base + i, host)));
    if (ok.every(Boolean)) return base;
  }
  throw new Error(`no ${n} consecutive free ports between ${LOW} and ${HIGH}`);
}

/** A port that was free a moment ago, outside the ephemeral range (see above). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return freePortRun(1, host);
}
