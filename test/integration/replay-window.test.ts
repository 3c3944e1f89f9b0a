import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { startField, type Field } from '../helpers/field.ts';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/readings.ts';
import {
  campusCli as cli,
  exited,
  killHard,
  numberedSeqs,
  querySqlite,
  storedSeqs,
} from '../helpers/campus-cli.ts';

/**
 * Issue 26 item 2, the end of the replay window: readings the broker acknowledged and lost (a
 * SIGKILL while they waited for ingest), asked for only after the gateway's window ended. Nobody
 * holds them any more, and the product must say so — an alert on campus/v1/alerts/readings-lost
 * and a metric, each naming the meter and the seq range — rather than leave the hole silent.
 * The ranges named must be exactly the seqs the gateway numbered and no store holds.
 */

describe('a gap still open when the replay window expires', () => {
  let field: Field;
  let broker: Mosquitto;
  let gateway: ChildProcess | undefined;
  let ingest: ChildProcess | undefined;

  afterAll(async () => {
    await killHard(gateway);
    await killHard(ingest);
    await broker?.dispose();
    await field?.stop();
  });

  it('becomes an alert and a metric naming the meter and the range, exactly the seqs lost', async () => {
    field = await startField({ concentrators: [{ transport: 'modbus-tcp', meters: 3 }], pollInterval: 250 });
    // No autosave during the test: a SIGKILL loses everything queued since the start.
    broker = await startMosquitto({ autosaveInterval: 3_600 });
    const config = join(field.dir, 'campus.yaml');
    const sites = (field.raw.sites as { gateways: Record<string, unknown>[] }[]).map((site) => ({
      ...site,
      gateways: site.gateways.map((g) => ({ ...g, outbox: { keep: '2s', announceInterval: '1s' } })),
    }));
    writeFileSync(
      config,
      stringify({
        ...field.raw,
        sites,
        mqtt: { url: broker.url },
        ingest: { replay: { grace: '1s', retry: '2s' } },
      }),
    );
    const outbox = join(field.dir, 'gw1-outbox.sqlite');
    const store = join(field.dir, 'store.sqlite');
    const metricsPort = await freePort();
    const startIngest = () => cli(['ingest', '-c', config, '--metrics', `127.0.0.1:${metricsPort}`]);

    ingest = startIngest();
    gateway = cli(['gateway', '-c', config, '-g', 'gw1']);
    await waitFor(
      () => new Set(storedSeqs(store).map((r) => r.meter)).size === 3,
      60_000,
      'every meter stored',
    );

    // Ingest away, readings queue in the broker, the broker dies with them.
    await killHard(ingest);
    await new Promise((r) => setTimeout(r, 3_000));
    await broker.kill();
    await broker.restart();
    // The window (2 s) ends; the gateway prunes on its next acks, at most 10 s apart.
    await new Promise((r) => setTimeout(r, 14_000));

    const alerts: { meter: string; from: number; to: number; reason: string }[] = [];
    const monitor = await mqtt.connectAsync(broker.url, { clientId: 'alert-watch' });
    monitor.on('message', (_t, payload) => alerts.push(JSON.parse(payload.toString())));
    await monitor.subscribeAsync('campus/v1/alerts/readings-lost', { qos: 1 });
    ingest = startIngest();

    const missingNow = () => {
      const stored = new Set(storedSeqs(store).map((r) => `${r.meter}#${r.seq}`));
      const out: string[] = [];
      for (const [meter, n] of numberedSeqs(outbox)) {
        for (let seq = 1; seq <= n; seq++) if (!stored.has(`${meter}#${seq}`)) out.push(`${meter}#${seq}`);
      }
      return out;
    };
    const alerted = () =>
      alerts.flatMap((a) => Array.from({ length: a.to - a.from + 1 }, (_, i) => `${a.meter}#${a.from + i}`));
    await waitFor(() => alerts.length > 0, 60_000, 'a lost-readings alert');
    // The gateway stops cleanly (its outbox drains), so that nothing is in flight when the
    // numbered and stored seqs are compared; late replays get time to land.
    gateway.kill('SIGTERM');
    await exited(gateway);
    await waitFor(
      () => missingNow().every((k) => alerted().includes(k)),
      30_000,
      'every missing reading named in an alert',
    );
    await new Promise((r) => setTimeout(r, 3_000));
    const missing = missingNow();
    expect(missing.length).toBeGreaterThan(0);
    expect(alerted().sort()).toEqual([...missing].sort());
    expect(new Set(alerted()).size).toBe(alerted().length); // each range once
    for (const a of alerts) expect(a.reason).toMatch(/no longer holds/);

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const total = Number(/^campus_energy_ingest_readings_lost_total (\d+)$/m.exec(metrics)?.[1]);
    expect(total).toBe(missing.length);
    for (const a of alerts) {
      expect(metrics).toContain(
        `campus_energy_ingest_lost_range{meter="${a.meter}",from="${a.from}",to="${a.to}"}`,
      );
    }
    // The ledger keeps them across restarts.
    const ledger = querySqlite<{ n: number }>(
      join(field.dir, 'ingest-gaps.sqlite'),
      'select sum(to_seq - from_seq + 1) as n from lost',
    );
    expect(ledger[0]?.n).toBe(missing.length);
    await monitor.endAsync();
    ingest.kill('SIGTERM');
    await exited(ingest);
  }, 180_000);
});
