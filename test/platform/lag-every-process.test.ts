import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { exited, killHard } from '../helpers/campus-cli.ts';
import { startField, type Field } from '../helpers/field.ts';
import { freePort, freePortRun } from '../helpers/ports.ts';
import { waitFor } from '../helpers/readings.ts';

/**
 * Issue 26 item 7: every process on the readings' path exports its event-loop lag. Scraped here
 * from each process `campus-energy run` starts: the supervisor (which carries the embedded
 * broker), ingest and the gateway on the ports after the supervisor's, the back office on its API.
 */

/** The lag samples of a scrape: quantile → seconds, for the one component expected. */
function lagOf(text: string, component: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = /^campus_energy_event_loop_lag_seconds\{component="([^"]+)",quantile="([^"]+)"\} (\S+)$/gm;
  for (const m of text.matchAll(re)) {
    expect(m[1]).toBe(component);
    out.set(m[2]!, Number(m[3]));
  }
  return out;
}

describe('event-loop lag in every process', () => {
  let field: Field;
  let run: ChildProcess | undefined;
  afterAll(async () => {
    // SIGTERM stops the supervisor's tree; SIGKILL would leave its children running.
    if (run && run.exitCode === null) {
      run.kill('SIGTERM');
      await Promise.race([exited(run), new Promise((r) => setTimeout(r, 15_000))]);
    }
    await killHard(run);
    await field?.stop();
  });

  it('the supervisor, ingest, the gateway and the back office each serve it in /metrics', async () => {
    field = await startField({ concentrators: [{ transport: 'modbus-tcp', meters: 2 }], pollInterval: 500 });
    const config = join(field.dir, 'campus.yaml');
    writeFileSync(config, stringify(field.raw));
    const metrics = await freePortRun(3);
    const httpPort = await freePort();
    run = spawn(
      process.execPath,
      [
        'bin/campus-energy.js',
        'run',
        '-c',
        config,
        '--broker-port',
        String(await freePort()),
        '--http',
        `127.0.0.1:${httpPort}`,
        '--insecure-cookie',
        '--metrics',
        `127.0.0.1:${metrics}`,
        '--log-level',
        'error',
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const endpoints = [
      ['supervisor', `http://127.0.0.1:${metrics}/metrics`],
      ['ingest', `http://127.0.0.1:${metrics + 1}/metrics`],
      ['gateway', `http://127.0.0.1:${metrics + 2}/metrics`],
      ['backoffice', `http://127.0.0.1:${httpPort}/metrics`],
    ] as const;
    const scraped = new Map<string, string>();
    await waitFor(
      () => {
        for (const [name, url] of endpoints) {
          if (scraped.has(name)) continue;
          void fetch(url)
            .then(async (r) => (r.ok ? scraped.set(name, await r.text()) : undefined))
            .catch(() => undefined);
        }
        return scraped.size === endpoints.length;
      },
      90_000,
      'every process serving /metrics',
    );
    for (const [name] of endpoints) {
      const text = scraped.get(name)!;
      expect(text, name).toContain('# HELP campus_energy_event_loop_lag_seconds How late the event loop ran');
      expect(text, name).toContain('# TYPE campus_energy_event_loop_lag_seconds gauge');
      const lag = lagOf(text, name);
      expect([...lag.keys()], name).toEqual(['0.5', '0.99', '0.999', '1']);
      for (const v of lag.values()) expect(Number.isFinite(v) && v >= 0, name).toBe(true);
      // Quantiles are in order: p50 ≤ p99 ≤ p99.9 ≤ the longest.
      const q = [...lag.values()];
      expect(q, name).toEqual([...q].sort((a, b) => a - b));
    }
  });
});
