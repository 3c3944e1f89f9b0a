import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { exited, killHard, querySqlite } from '../helpers/campus-cli.ts';
import { startField, type Field } from '../helpers/field.ts';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { freePort } from '../helpers/ports.ts';

/**
 * A gateway told to stop while its broker is unreachable (issue 16 item 2): its readings are
 * committed in the outbox already, so it exits 0 within the stop deadline instead of waiting for a
 * drain that cannot happen, and the readings go out when it next starts with a broker.
 */

/** bin/cli-shared.ts: what a stop may take before the process exits 1 anyway. */
const STOP_DEADLINE_MS = 4_500;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function gatewayCli(campusFile: string, outbox: string, mqttUrl: string): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      'bin/campus-energy.js',
      'gateway',
      '-c',
      campusFile,
      '-g',
      'gw1',
      '--mqtt',
      mqttUrl,
      '--outbox',
      outbox,
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  cleanups.push(() => killHard(child));
  return child;
}

async function until(what: string, ok: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const queued = (outbox: string) =>
  querySqlite<{ meter: string; seq: number }>(outbox, 'select meter, seq from messages order by id');

describe('a gateway stopped with no broker', () => {
  it('exits 0 within the deadline, its outbox intact, and publishes it after a restart', async () => {
    const field: Field = await startField({
      concentrators: [{ transport: 'modbus-tcp', meters: 3 }],
      pollInterval: 200,
    });
    cleanups.push(() => {
      rmSync(field.dir, { recursive: true, force: true });
      return field.stop();
    });
    const campusFile = join(field.dir, 'campus.yaml');
    writeFileSync(campusFile, field.yaml());
    const outbox = join(field.dir, 'gw1-outbox.sqlite');

    // Nothing listens on this port: every connection attempt is refused.
    const closed = `mqtt://127.0.0.1:${await freePort()}`;
    const gw = gatewayCli(campusFile, outbox, closed);
    let stderr = '';
    gw.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await until('readings in the outbox', () => queued(outbox).length >= 6);

    const t0 = performance.now();
    gw.kill('SIGTERM');
    await exited(gw);
    const stopMs = performance.now() - t0;
    expect(gw.exitCode, stderr.slice(-2000)).toBe(0);
    expect(stopMs).toBeLessThan(STOP_DEADLINE_MS);

    const left = queued(outbox);
    expect(left.length).toBeGreaterThanOrEqual(6);
    // Every meter numbered from 1, without a hole: nothing was lost by the stop.
    for (const id of field.meterIds) {
      const seqs = left.filter((r) => r.meter === id).map((r) => r.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    }

    // With a broker, the next start publishes what the stop left.
    const broker: Mosquitto = await startMosquitto();
    cleanups.push(() => broker.dispose());
    const sub = await mqtt.connectAsync(broker.url, { clientId: 'stop-test-sub' });
    cleanups.push(() => sub.endAsync());
    const seen = new Set<string>();
    sub.on('message', (_topic, payload) => {
      const r = JSON.parse(payload.toString()) as { meter: string; seq: number };
      seen.add(`${r.meter}#${r.seq}`);
    });
    await sub.subscribeAsync('campus/v1/test/gw1/+/reading', { qos: 1 });
    const again = gatewayCli(campusFile, outbox, broker.url);
    await until('the stopped gateway’s readings published', () =>
      left.every((r) => seen.has(`${r.meter}#${r.seq}`)),
    );
    again.kill('SIGTERM');
    await exited(again);
    expect(again.exitCode).toBe(0);
  }, 60_000);
});
