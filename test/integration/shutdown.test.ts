import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/readings.ts';
import { openSse } from '../platform/sse-client.ts';

/**
 * Issue 26 item 7: a SIGINT used to leave the demo running while any client held the alert stream
 * open. Here the demo (a real child process: gateways, ingest, broker, back office, detection's
 * thread) is SIGTERMed while clients hold both long-lived streams open, the live readings and the
 * alerts: it exits with status 0 within 5 s, and every stream ends with its closing event.
 */
describe('shutdown with clients connected', () => {
  it('ends every stream with a closing event and exits 0 within 5 s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'campus-shutdown-'));
    const httpPort = await freePort();
    const base = `http://127.0.0.1:${httpPort}`;
    const demo = spawn(
      process.execPath,
      [
        'bin/campus-energy.js',
        'demo',
        ...['--data-dir', dir, '--http-port', String(httpPort), '--broker-port', String(await freePort())],
        ...['--rooms', '4', '--history', '7'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    demo.stdout.on('data', (d: Buffer) => (out += d.toString()));
    demo.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((resolve) =>
      demo.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
    );
    try {
      await waitFor(() => out.includes('Ctrl-C stops everything'), 180_000, 'the demo to start');
      const users = JSON.parse(readFileSync(join(dir, 'demo-users.json'), 'utf8')) as {
        username: string;
        password: string;
      }[];
      const token = async (username: string) => {
        const u = users.find((x) => x.username === username)!;
        const res = await fetch(`${base}/api/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username, password: u.password }),
        });
        expect(res.status).toBe(201);
        return ((await res.json()) as { token: string }).token;
      };
      const operator = await token('demo.operator');
      const inspector = await token('demo.inspector');
      const live = [0, 1, 2].map(() => openSse(`${base}/api/readings/stream`, operator));
      const alerts = [0, 1, 2].map(() => openSse(`${base}/api/alerts/stream`, inspector));
      expect(await Promise.all([...live, ...alerts].map((c) => c.opened))).toEqual(Array(6).fill(200));
      // The live stream is carrying readings: the clients are real, not just connected.
      await waitFor(() => live.every((c) => (c.counts.get('reading') ?? 0) > 0), 60_000, 'live readings');

      const t0 = performance.now();
      demo.kill('SIGTERM');
      const ends = await Promise.all([...live, ...alerts].map((c) => c.ended));
      const exit = await exited;
      expect(exit.at - t0).toBeLessThanOrEqual(5_000);
      expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
      // Each stream ended by the server, its last event saying why.
      expect(ends).toEqual(Array(6).fill('end'));
      for (const c of [...live, ...alerts]) {
        expect(c.last.at(-1)).toEqual({
          event: 'shutdown',
          data: JSON.stringify({ reason: 'the server is stopping' }),
        });
      }
      expect(out).toContain('SIGTERM: stopping…');
      expect(out).not.toContain('not stopped after');
    } finally {
      if (demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
    }
  }, 300_000);
});
