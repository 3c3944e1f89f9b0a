import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { subscribeReadings } from '../../adapters/mqtt/subscriber.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/readings.ts';

/** The demo's dorm E3 on DL/T 645 and its CJ/T 188 water and heat meters. */
const dlt645 = (m: string) => m === 'E-E3-MAIN' || m.startsWith('E-E3-1');
const cjt188 = (m: string) => m === 'W-E3' || m === 'H-E3';

describe('campus-energy demo', () => {
  it('starts the embedded broker, simulated campus and gateways, says where to look, and stops on Ctrl-C', async () => {
    const port = await freePort();
    const httpPort = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'campus-demo-'));
    const child = spawn(
      process.execPath,
      [
        'bin/campus-energy.js',
        'demo',
        '--broker-port',
        String(port),
        '--http-port',
        String(httpPort),
        '--rooms',
        '4',
        '--history',
        '7',
        '--data-dir',
        dataDir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => out.includes('Ctrl-C'), 60_000, 'the demo banner');
      expect(out).toContain(`mqtt://127.0.0.1:${port}`);
      // The embedded broker lets in only the campus's accounts; a dashboard logs in as the monitor.
      await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 })).rejects.toThrow(
        /Not authorized|Bad username/i,
      );
      const secrets = JSON.parse(
        readFileSync(join(dataDir, 'broker', 'mqtt-secrets.json'), 'utf8'),
      ) as Record<string, string>;
      const sub = await subscribeReadings({
        url: `mqtt://127.0.0.1:${port}`,
        topic: 'campus/v1/+/+/+/reading',
        username: 'svc/monitor',
        password: secrets['svc/monitor'],
      });
      await waitFor(
        () => new Set(sub.readings.map((r) => r.meter)).size >= 20,
        30_000,
        'readings from the demo campus',
      );
      expect(sub.invalid).toEqual([]);
      // Dorm E3 on DL/T 645 and a CJ/T 188 water and heat line, read by the east gateway.
      expect(out).toMatch(/E3-dlt645 \(DL\/T 645\) on 127\.0\.0\.1:\d+, E3-cjt188 \(CJ\/T 188\)/);
      await waitFor(
        () =>
          [dlt645, cjt188].every((line) => sub.readings.some((r) => line(r.meter) && r.quality === 'good')),
        45_000,
        'good readings from the DL/T 645 and CJ/T 188 lines',
      );
      // Electricity meters poll every 10 s from the start; heat and water every 30 s, staggered.
      expect(sub.readings.some((r) => r.meter.startsWith('E-') && r.quality === 'good')).toBe(true);
      expect(sub.readings.filter((r) => r.quality === 'good').length).toBeGreaterThan(0);
      await sub.close();

      // The demo's staff can log in to the back office with the passwords it printed.
      const printed = /demo\.supervisor\s+(\S+)\s+supervisor/.exec(out);
      expect(printed).not.toBeNull();
      const api = `http://127.0.0.1:${httpPort}`;
      const login = await fetch(`${api}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'demo.supervisor', password: printed![1] }),
      });
      expect(login.status).toBe(201);
      const { token } = (await login.json()) as { token: string };
      const me = await fetch(`${api}/api/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(((await me.json()) as { actor: { roles: string[] } }).actor.roles).toEqual(['supervisor']);

      // Detection ran over the rendered history: the inspectors' inbox has the injected cases.
      await waitFor(() => /detection: \d+ alerts opened/.test(out), 60_000, 'the first detection run');
      const alerts = (await (
        await fetch(`${api}/api/alerts`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as { type: string; meter?: string; node?: string }[];
      const types = new Set(alerts.map((a) => a.type));
      expect(types).toContain('illegal-load');
      expect(types).toContain('energy-balance');
      // And a prepaid room has run out of credit since it was opened at the start of the history.
      const balance = async () =>
        (
          (await (
            await fetch(`${api}/api/accounts/ROOM-E1-101`, { headers: { authorization: `Bearer ${token}` } })
          ).json()) as { balanceFen: number }
        ).balanceFen;
      const deadline = Date.now() + 30_000;
      while ((await balance()) >= 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
      expect(await balance()).toBeLessThan(0);
    } finally {
      child.kill('SIGINT');
    }
    const code = await exited;
    expect(code, out.slice(-3000)).toBe(0);
    // The demo's ingest stored what the gateways published, in the embedded SQLite store.
    const db = new Database(join(dataDir, 'store.sqlite'), { readonly: true });
    const { n } = db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number };
    // Both field protocols reached the store through the same gateway, broker and ingest.
    const field = db
      .prepare(
        `SELECT m.name AS meter, r.energy_import_kwh AS kwh, r.volume_m3 AS m3, r.heat_kwh AS heat
           FROM readings r JOIN meters m ON m.id = r.meter_id WHERE m.name LIKE '%-E3%' AND r.quality = 0`,
      )
      .all() as { meter: string; kwh: number | null; m3: number | null; heat: number | null }[];
    db.close();
    expect(n).toBeGreaterThan(0);
    expect(field.some((r) => dlt645(r.meter) && r.kwh! > 0)).toBe(true);
    expect(field.some((r) => cjt188(r.meter) && (r.m3 ?? r.heat)! > 0)).toBe(true);
  }, 90_000);
});
