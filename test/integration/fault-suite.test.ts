import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startField, type Field } from '../helpers/field.ts';
import { influxdAvailable, startInfluxd, type Influxd } from '../helpers/influxd.ts';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/readings.ts';
import { steppableClock } from '../helpers/faketime.ts';
import { countFault, faultTable, type FaultCount } from '../helpers/fault-count.ts';
import { mountTmpfs, type SmallDisk } from '../helpers/tmpfs.ts';
import { campusCli as cli, exited, killHard, numberedSeqs, storedSeqs } from '../helpers/campus-cli.ts';

/**
 * Issue 26 items 2 and 8, the faults the product rides out: the gateway, ingest and the broker as
 * operators run them (the CLI, mosquitto with the shipped file), each fault in turn, and per fault
 * the readings numbered by the gateway in it, stored by ingest, lost and duplicated. Printed, and
 * lost and duplicated asserted 0 for every fault — the broker SIGKILLed included: what it had
 * acknowledged to the gateway and neither handed to ingest nor saved is found missing by ingest
 * and replayed by the gateway from its replay window (end-to-end acknowledgement).
 * The suite found that mosquitto 2.0 restored ingest's shared subscription after a clean restart
 * without delivering to it (265 of 266 readings lost); ingest now subscribes again on reconnect.
 *
 * Shorter than the shipped defaults, so the suite runs in minutes: the gateway announces its seqs
 * every 2 s (default 10 s) and ingest asks after a hole stayed open 2 s (default 10 s).
 */

const PHASE_MS = 4_000;

const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

interface Row extends FaultCount {
  fault: string;
}

/** The field's campus on this broker, with the replay timings shortened (see above). */
function withQuickReplay(
  raw: Record<string, unknown>,
  url: string,
  outboxPath: string,
): Record<string, unknown> {
  const sites = (raw.sites as { gateways: Record<string, unknown>[] }[]).map((site) => ({
    ...site,
    gateways: site.gateways.map((g) => ({
      ...g,
      outbox: { ...(g.outbox as object), announceInterval: '2s', path: outboxPath },
    })),
  }));
  return { ...raw, sites, mqtt: { url }, ingest: { replay: { grace: '2s', retry: '5s' } } };
}

/**
 * A suite's phase: runs a fault, counts what the gateway numbered meanwhile and what of it the
 * store holds (countFault), records the row and asserts nothing lost or duplicated.
 */
function phaseRecorder(
  rows: Row[],
  numbered: () => Map<string, number>,
  stored: Parameters<typeof countFault>[2],
): (fault: string, run: () => Promise<void>) => Promise<void> {
  return async (fault, run) => {
    const counted = await countFault(run, numbered, stored, { settleMs: PHASE_MS / 2, waitMs: 30_000 });
    const row = { fault, ...counted };
    rows.push(row);
    expect(row, fault).toMatchObject({ lost: 0, duplicated: 0 });
    expect(row.numbered, fault).toBeGreaterThan(0);
  };
}

describe('fault suite: numbered, stored, lost and duplicated per fault', () => {
  let field: Field;
  let broker: Mosquitto;
  let config: string;
  let gateway: ChildProcess;
  let ingest: ChildProcess;
  const rows: Row[] = [];
  // The gateway's wall clock, stepped in one phase (NTP after a cold start without an RTC).
  const clock = steppableClock();
  const startGateway = () => cli(['gateway', '-c', config, '-g', 'gw1'], 'env' in clock ? clock.env : {});

  // The gateway's outbox lives on a small disk of its own, so that one phase can fill it.
  let disk: SmallDisk | { error: string };
  const outbox = () =>
    'dir' in disk ? join(disk.dir, 'gw1-outbox.sqlite') : join(field.dir, 'gw1-outbox.sqlite');
  const store = () => join(field.dir, 'store.sqlite');
  /** Per meter, the last seq the gateway has numbered. */
  const numbered = (): Map<string, number> => numberedSeqs(outbox());
  const duplicates = () => {
    const all = storedRows();
    return all.length - new Set(all.map((r) => `${r.meter}#${r.seq}`)).size;
  };
  const storedRows = () => storedSeqs(store());

  const phase = phaseRecorder(rows, numbered, storedRows);

  beforeAll(async () => {
    field = await startField({ concentrators: [{ transport: 'modbus-tcp', meters: 6 }], pollInterval: 250 });
    broker = await startMosquitto();
    config = join(field.dir, 'campus.yaml');
    disk = mountTmpfs(64 * 1024 * 1024);
    writeFileSync(config, stringify(withQuickReplay(field.raw, broker.url, outbox())));
    // A fresh install, as it happens: the gateway first. What it publishes before ingest ever
    // subscribed is acknowledged by the broker and delivered to nobody; ingest asks for it.
    gateway = startGateway();
    await waitFor(
      () => [...numbered().values()].some((n) => n >= 8),
      30_000,
      'the gateway numbered readings',
    );
    ingest = cli(['ingest', '-c', config]);
    const firstNumbered = numbered();
    await waitFor(
      () =>
        [...firstNumbered].every(([meter, n]) => {
          const got = new Set(
            storedRows()
              .filter((r) => r.meter === meter)
              .map((r) => r.seq),
          );
          for (let seq = 1; seq <= n; seq++) if (!got.has(seq)) return false;
          return true;
        }),
      60_000,
      'every reading numbered before ingest first subscribed stored',
    );
    const before = [...firstNumbered.values()].reduce((a, b) => a + b, 0);
    rows.push({
      fault: 'ingest started after the gateway (fresh install)',
      numbered: before,
      stored: before,
      lost: 0,
      duplicated: duplicates(),
    });
    expect(duplicates()).toBe(0);
  }, 120_000);

  afterAll(async () => {
    for (const c of [gateway, ingest]) await killHard(c);
    await broker?.dispose();
    await field?.stop();
    if (disk && 'dir' in disk) disk.unmount();
    console.log(faultTable('fault', rows));
  });

  it('loses and duplicates nothing through kills and outages of gateway, ingest and broker', async () => {
    await phase('steady state', () => new Promise((r) => setTimeout(r, PHASE_MS)));
    await phase('gateway SIGKILL, restarted 2 s later', async () => {
      gateway.kill('SIGKILL');
      await exited(gateway);
      await new Promise((r) => setTimeout(r, 2_000));
      const before = sum(numbered());
      gateway = startGateway();
      // A start takes seconds under CI's load (0 numbered in a phase of fixed length once): the
      // phase runs until the restarted gateway numbers again, then as long as the others.
      await waitFor(() => sum(numbered()) > before, 60_000, 'the restarted gateway numbering');
      await new Promise((r) => setTimeout(r, PHASE_MS));
    });
    await phase('ingest SIGKILL, restarted 3 s later', async () => {
      ingest.kill('SIGKILL');
      await exited(ingest);
      await new Promise((r) => setTimeout(r, 3_000));
      ingest = cli(['ingest', '-c', config]);
      await new Promise((r) => setTimeout(r, PHASE_MS));
    });
    await phase('broker stopped 5 s', async () => {
      await broker.stop();
      await new Promise((r) => setTimeout(r, 5_000));
      await broker.restart();
      await new Promise((r) => setTimeout(r, PHASE_MS));
    });
    // What the broker acknowledged to the gateway and had neither delivered (and had acknowledged
    // by ingest) nor saved dies with a SIGKILL; ingest finds the hole and the gateway replays it.
    await phase('broker SIGKILL with ingest connected', async () => {
      await broker.kill();
      await broker.restart();
      await new Promise((r) => setTimeout(r, PHASE_MS));
    });
    // A full disk on the gateway: polling goes on, results wait in memory (bounded, counted when
    // dropped) and are committed once the disk takes them again.
    if ('dir' in disk) {
      const small = disk;
      await phase('gateway outbox disk full 5 s', async () => {
        small.fill();
        await new Promise((r) => setTimeout(r, 5_000));
        small.free();
        await new Promise((r) => setTimeout(r, PHASE_MS));
      });
    } else {
      console.warn(`fault suite: the disk-full phase needs its own small disk: ${disk.error}`);
      if (process.env.CI) throw new Error(disk.error);
    }
    // The wall clock set back an hour under the running gateway and forward again: polling goes on
    // by the monotonic clock, readings carry the stepped times, seqs go on, and ingest takes them.
    if ('env' in clock) {
      const stepped = clock;
      const before = Date.now();
      await phase('gateway clock stepped back 1 h, then forward again', async () => {
        stepped.step('-1h');
        await new Promise((r) => setTimeout(r, PHASE_MS + 1_000));
        stepped.step('+0');
        await new Promise((r) => setTimeout(r, PHASE_MS));
      });
      // The step took: readings stamped about an hour before the phase are stored.
      const backInTime = storedRows().filter(
        (r) => r.ts < before - 50 * 60_000 && r.ts > before - 70 * 60_000,
      );
      expect(backInTime.length).toBeGreaterThan(0);
    } else {
      console.warn(`fault suite: the clock phase needs libfaketime: ${clock.error}`);
    }
    await phase('broker SIGKILL while ingest is away', async () => {
      ingest.kill('SIGKILL');
      await exited(ingest);
      await new Promise((r) => setTimeout(r, 3_000)); // readings queue in the broker for ingest
      await broker.kill();
      await broker.restart();
      ingest = cli(['ingest', '-c', config]);
      await new Promise((r) => setTimeout(r, PHASE_MS));
    });
  }, 300_000);
});

/** Every (meter, seq) of the points in influxd's database, one row per point. */
async function influxSeqs(url: string, database: string): Promise<{ meter: string; seq: number }[]> {
  const q = new URLSearchParams({ db: database, q: 'SELECT "seq" FROM "reading" GROUP BY "meter"' });
  const res = await fetch(`${url}/query?${q}`);
  if (!res.ok) throw new Error(`influxd query: HTTP ${res.status}`);
  const body = (await res.json()) as {
    results: { series?: { tags: { meter: string }; values: [string, number][] }[]; error?: string }[];
  };
  if (body.results[0]?.error) throw new Error(body.results[0].error);
  return (body.results[0]?.series ?? []).flatMap((s) =>
    s.values.map(([, seq]) => ({ meter: s.tags.meter, seq })),
  );
}

/**
 * The production store's faults (issue 26 item 8, "store stopped"): the same CLI gateway and ingest
 * into a real influxd, stopped for 10 s and killed with SIGKILL. Ingest acknowledges a reading to
 * the broker only once influxd took it, so what influxd did not take stays queued in the broker and
 * comes again; what its WAL had acknowledged survives a SIGKILL.
 */
describe.skipIf(!influxdAvailable())('fault suite on InfluxDB: numbered, stored, lost and duplicated', () => {
  let field: Field;
  let broker: Mosquitto;
  let influxd: Influxd;
  let gateway: ChildProcess;
  let ingest: ChildProcess;
  const rows: Row[] = [];
  const outbox = () => join(field.dir, 'gw1-outbox.sqlite');
  let stored: { meter: string; seq: number }[] = [];
  const refresh = async () => {
    stored = await influxSeqs(influxd.url, 'faults');
  };

  const phase = phaseRecorder(
    rows,
    () => numberedSeqs(outbox()),
    () => influxSeqs(influxd.url, 'faults'),
  );

  beforeAll(async () => {
    field = await startField({ concentrators: [{ transport: 'modbus-tcp', meters: 6 }], pollInterval: 250 });
    broker = await startMosquitto();
    influxd = await startInfluxd();
    const config = join(field.dir, 'campus.yaml');
    const raw = withQuickReplay(field.raw, broker.url, outbox());
    writeFileSync(
      config,
      stringify({ ...raw, storage: { influx: { url: influxd.url, database: 'faults' } } }),
    );
    ingest = cli(['ingest', '-c', config]);
    gateway = cli(['gateway', '-c', config, '-g', 'gw1']);
    const deadline = Date.now() + 60_000;
    while (new Set(stored.map((r) => r.meter)).size < 6) {
      if (Date.now() > deadline) throw new Error('no readings of every meter in influxd within 60 s');
      await new Promise((r) => setTimeout(r, 500));
      await refresh().catch(() => undefined);
    }
  }, 120_000);

  afterAll(async () => {
    for (const c of [gateway, ingest]) await killHard(c);
    await broker?.dispose();
    await influxd?.dispose();
    await field?.stop();
    console.log(faultTable('fault (InfluxDB)', rows));
  });

  it('loses and duplicates nothing while influxd is stopped or killed', async () => {
    await phase('steady state', () => new Promise((r) => setTimeout(r, PHASE_MS)));
    await phase('influxd stopped 10 s', async () => {
      await influxd.stop();
      await new Promise((r) => setTimeout(r, 10_000));
      await influxd.restart();
      await new Promise((r) => setTimeout(r, PHASE_MS));
    });
    await phase('influxd SIGKILL, restarted 2 s later', async () => {
      await influxd.kill();
      await new Promise((r) => setTimeout(r, 2_000));
      await influxd.restart();
      await new Promise((r) => setTimeout(r, PHASE_MS));
    });
  }, 180_000);
});
