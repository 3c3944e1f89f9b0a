import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { startField, type Field } from '../helpers/field.ts';
import { freePort, freePortRun } from '../helpers/ports.ts';
import { waitFor } from '../helpers/readings.ts';
import { exited, killHard, numberedSeqs, storedSeqs } from '../helpers/campus-cli.ts';
import { runParts } from '../helpers/run-tree.ts';

/**
 * Issue 17 item 1 (and issue 26 item 7's "its own process"): `campus-energy run` starts the
 * embedded broker and each part — the gateway, ingest, the back office — as a process of its own,
 * restarts a part that dies, alone, and loses no reading doing so; SIGTERM stops the whole tree.
 */

const part = (pid: number, name: string) => runParts(pid).find((c) => c.name === name);

describe('campus-energy run', () => {
  let field: Field;
  let run: ChildProcess | undefined;

  afterAll(async () => {
    if (run?.pid) for (const c of runParts(run.pid)) process.kill(c.pid, 'SIGKILL');
    await killHard(run);
    await field?.stop();
  });

  it('runs every part in its own process, restarts a killed part alone, loses nothing, and stops on SIGTERM', async () => {
    field = await startField({ concentrators: [{ transport: 'modbus-tcp', meters: 3 }], pollInterval: 500 });
    const config = join(field.dir, 'campus.yaml');
    writeFileSync(config, stringify({ ...field.raw, ingest: { replay: { grace: '2s', retry: '5s' } } }));
    const brokerPort = await freePort();
    const httpPort = await freePort();
    // The supervisor's metrics port, then ingest's and the gateway's after it.
    const metricsPort = await freePortRun(3);
    run = spawn(
      process.execPath,
      [
        'bin/campus-energy.js',
        'run',
        '-c',
        config,
        '--broker-port',
        String(brokerPort),
        '--http',
        `127.0.0.1:${httpPort}`,
        '--insecure-cookie',
        '--metrics',
        `127.0.0.1:${metricsPort}`,
        '--log-level',
        process.env.FAULT_LOG ?? 'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // What the parts said, kept to name the cause when a wait below fails.
    const said: string[] = [];
    const keep = (chunk: Buffer) => {
      said.push(...chunk.toString().split('\n').filter(Boolean));
      said.splice(0, Math.max(0, said.length - 60));
    };
    run.stdout!.on('data', keep);
    run.stderr!.on('data', keep);
    const pid = run.pid!;
    const store = join(field.dir, 'store.sqlite');
    const outbox = join(field.dir, 'gw1-outbox.sqlite');
    const told = (err: Error) => {
      throw new Error(`${err.message}; the parts said:\n${said.join('\n')}`);
    };
    // The first readings wait for three processes to load (seconds each under tsx, several times
    // that on a loaded 2-core CI machine): this deadline is for a start that never comes.
    await waitFor(
      () => new Set(storedSeqs(store).map((r) => r.meter)).size === 3,
      120_000,
      'readings of every meter',
    ).catch(told);
    // The back office loads the most of the three parts: the same allowance as the first readings.
    for (const deadline = Date.now() + 120_000; ;) {
      const res = await fetch(`http://127.0.0.1:${httpPort}/`).catch(() => null);
      if (res?.ok) break;
      if (Date.now() > deadline)
        throw new Error(`the back office never answered; the parts said:\n${said.join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const before = runParts(pid);
    expect(before.map((c) => c.name).sort()).toEqual(['backoffice', 'gateway', 'ingest']);

    // Kill the gateway and ingest outright: each comes back on its own, the back office untouched.
    const gw = part(pid, 'gateway')!;
    const ing = part(pid, 'ingest')!;
    const bo = part(pid, 'backoffice')!;
    process.kill(gw.pid, 'SIGKILL');
    process.kill(ing.pid, 'SIGKILL');
    await waitFor(
      () => {
        const g = part(pid, 'gateway');
        const i = part(pid, 'ingest');
        return !!g && !!i && g.pid !== gw.pid && i.pid !== ing.pid;
      },
      30_000,
      'the gateway and ingest restarted',
    );
    expect(part(pid, 'backoffice')?.pid).toBe(bo.pid);

    // Nothing lost, nothing twice: every seq the gateway numbered is stored once.
    await new Promise((r) => setTimeout(r, 3_000));
    const numbered = numberedSeqs(outbox);
    const missing = () => {
      const stored = storedSeqs(store);
      return [...numbered].flatMap(([meter, n]) => {
        const got = new Set(stored.filter((r) => r.meter === meter).map((r) => r.seq));
        return Array.from({ length: n }, (_, i) => i + 1)
          .filter((seq) => !got.has(seq))
          .map((seq) => `${meter}#${seq}`);
      });
    };
    await waitFor(
      () => {
        const stored = storedSeqs(store);
        return [...numbered].every(([meter, n]) => {
          const got = new Set(stored.filter((r) => r.meter === meter).map((r) => r.seq));
          for (let seq = 1; seq <= n; seq++) if (!got.has(seq)) return false;
          return true;
        });
      },
      60_000,
      'every reading numbered before and across the kills stored',
    ).catch((err: Error) => {
      throw new Error(`${err.message}; missing ${missing().slice(0, 30).join(', ')} (${missing().length})`);
    });
    const stored = storedSeqs(store);
    expect(stored.length).toBe(new Set(stored.map((r) => `${r.meter}#${r.seq}`)).size);

    // The supervisor's metrics: each part up, the two killed ones restarted once, and an
    // anonymous client of the embedded broker refused and counted.
    const anonymous = await mqtt
      .connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { reconnectPeriod: 0, connectTimeout: 3_000 })
      .then(
        async (c) => {
          await c.endAsync();
          return 'connected';
        },
        (err: Error) => err.message,
      );
    expect(anonymous).not.toBe('connected');
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const sample = (name: string, labels: string) =>
      Number(new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    expect(sample('campus_energy_part_restarts_total', 'part="gateway gw1"')).toBe(1);
    expect(sample('campus_energy_part_restarts_total', 'part="ingest"')).toBe(1);
    expect(sample('campus_energy_part_restarts_total', 'part="backoffice"')).toBe(0);
    expect(sample('campus_energy_part_up', 'part="backoffice"')).toBe(1);
    expect(sample('campus_energy_broker_refused_connections_total', 'host="run"')).toBeGreaterThanOrEqual(1);

    // SIGTERM stops the tree: every part exits, then the supervisor.
    const started = Date.now();
    run.kill('SIGTERM');
    await exited(run);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(run.exitCode).toBe(0);
    expect(runParts(pid)).toEqual([]);
    for (const c of before) expect(spawnSync('kill', ['-0', String(c.pid)]).status).not.toBe(0);
  }, 360_000);
});
