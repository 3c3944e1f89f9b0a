import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startField, type Field } from '../helpers/field.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/readings.ts';

/**
 * Issue 26 item 1 as operators run it: `campus-energy gateway` with no broker configured starts
 * the embedded one, `campus-energy ingest` pointed at it used to be refused (MQTT 5 asked of a
 * 3.1.1 broker), log "ingest started" and exit 0 with nothing stored. Now it logs in with its own
 * account and stores; a refused login ends the process with a non-zero status.
 */

function cli(args: string[]): { child: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['bin/campus-energy.js', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => out, exit };
}

function storedSeqs(file: string): Map<string, number[]> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        'select m.name as meter, r.seq as seq from readings r join meters m on m.id = r.meter_id order by r.seq',
      )
      .all() as { meter: string; seq: number }[];
    const out = new Map<string, number[]>();
    for (const r of rows) out.set(r.meter, [...(out.get(r.meter) ?? []), r.seq]);
    return out;
  } finally {
    db.close();
  }
}

describe('campus-energy gateway (embedded broker) and campus-energy ingest', () => {
  let field: Field;
  let config: string;
  let port: number;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    field = await startField({ concentrators: [{ transport: 'modbus-tcp', meters: 3 }], pollInterval: 500 });
    config = join(field.dir, 'campus.yaml');
    // Ingest asks for a hole after 2 s (default 10 s), so the replay below shows within seconds.
    writeFileSync(config, stringify({ ...field.raw, ingest: { replay: { grace: '2s', retry: '5s' } } }));
    port = await freePort();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await field?.stop();
  });

  it('stores what the gateway publishes once ingest has logged in with its own account', async () => {
    const gw = cli([
      'gateway',
      '-c',
      config,
      '-g',
      'gw1',
      '--broker-port',
      String(port),
      '--log-level',
      'info',
    ]);
    children.push(gw.child);
    const secrets = join(field.dir, 'broker', 'mqtt-secrets.json');
    await waitFor(() => gw.out().includes('embedded broker started'), 30_000, 'the embedded broker');
    expect(existsSync(secrets)).toBe(true);

    // Nobody without an account gets in, so nobody can forge a reading.
    await expect(
      mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5000 }),
    ).rejects.toThrow(/Not authorized|Bad username/i);

    const ingest = cli(['ingest', '-c', config, '--mqtt', `mqtt://127.0.0.1:${port}`, '--log-level', 'info']);
    children.push(ingest.child);
    await waitFor(() => ingest.out().includes('ingest started'), 30_000, 'ingest to start');
    expect(ingest.out()).toContain('"mqtt":"3.1.1"');
    const store = join(field.dir, 'store.sqlite');
    await waitFor(
      () => existsSync(store) && field.meterIds.every((m) => (storedSeqs(store).get(m)?.length ?? 0) >= 3),
      30_000,
      'three readings of every meter stored',
    );
    // What the broker took before ingest first subscribed went to nobody; ingest asks the gateway
    // for it (end-to-end acknowledgement), so every meter's readings are gap-free from seq 1.
    await waitFor(
      () => field.meterIds.every((m) => storedSeqs(store).get(m)?.[0] === 1),
      30_000,
      'the readings published before ingest subscribed, replayed',
    );
    for (const [meter, seqs] of storedSeqs(store)) {
      expect(seqs, meter).toEqual(seqs.map((_, i) => 1 + i));
    }
    expect(ingest.child.exitCode).toBeNull();
    ingest.child.kill('SIGINT');
    expect(await ingest.exit).toBe(0);
  });

  it('exits non-zero, naming the cause, when the broker refuses its login', async () => {
    // Another data folder whose credentials file holds a wrong password for ingest.
    const other = join(field.dir, 'other');
    mkdirSync(join(other, 'broker'), { recursive: true });
    const real = JSON.parse(readFileSync(join(field.dir, 'broker', 'mqtt-secrets.json'), 'utf8')) as Record<
      string,
      string
    >;
    writeFileSync(
      join(other, 'broker', 'mqtt-secrets.json'),
      JSON.stringify({ ...real, 'svc/ingest': 'not-the-password' }),
      { mode: 0o600 },
    );
    const otherConfig = join(field.dir, 'other.yaml');
    writeFileSync(otherConfig, stringify({ ...field.raw, dataDir: other }));
    const ingest = cli(['ingest', '-c', otherConfig, '--mqtt', `mqtt://127.0.0.1:${port}`]);
    children.push(ingest.child);
    const code = await Promise.race([
      ingest.exit,
      new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000)),
    ]);
    expect(code).not.toBe('hung');
    expect(code).not.toBe(0);
    expect(ingest.out()).toMatch(/refused ingest.*username and password/);
  });
});
