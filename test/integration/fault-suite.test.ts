import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startField, type Field } from '../helpers/field.ts';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/readings.ts';

/**
 * Issue 26 item 8, the faults the product rides out today: the gateway, ingest and the broker as
 * operators run them (the CLI, mosquitto with the shipped file), each fault in turn, and per fault
 * the readings numbered by the gateway in it, stored by ingest, lost and duplicated. Printed, and
 * lost and duplicated asserted 0 for every fault except the one the README names as the gap that
 * remains (a broker SIGKILLed: what it had acknowledged to the gateway and neither handed to ingest
 * nor saved is gone, until end-to-end replay exists); those figures are printed for the README.
 * The suite found that mosquitto 2.0 restored ingest's shared subscription after a clean restart
 * without delivering to it (265 of 266 readings lost); ingest now subscribes again on reconnect.
 */

const PHASE_MS = 4_000;

interface Row {
  fault: string;
  numbered: number;
  stored: number;
  lost: number;
  duplicated: number;
}

function cli(args: string[]): ChildProcess {
  return spawn(
    process.execPath,
    ['bin/campus-energy.js', ...args, '--log-level', process.env.FAULT_LOG ?? 'error'],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()),
  );
}

function query<T>(file: string, sql: string): T[] {
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as T[];
  } catch (err) {
    // The process that owns the file may not have created its tables yet.
    if (/no such table/.test((err as Error).message)) return [];
    throw err;
  } finally {
    db.close();
  }
}

describe('fault suite: numbered, stored, lost and duplicated per fault', () => {
  let field: Field;
  let broker: Mosquitto;
  let config: string;
  let gateway: ChildProcess;
  let ingest: ChildProcess;
  const rows: Row[] = [];

  const outbox = () => join(field.dir, 'gw1-outbox.sqlite');
  const store = () => join(field.dir, 'store.sqlite');
  /** Per meter, the last seq the gateway has numbered. */
  const numbered = (): Map<string, number> =>
    new Map(
      query<{ meter: string; n: number }>(outbox(), 'select meter, next_seq - 1 as n from meter_seq').map(
        (r) => [r.meter, r.n],
      ),
    );
  const storedRows = () =>
    query<{ meter: string; seq: number }>(
      store(),
      'select m.name as meter, r.seq as seq from readings r join meters m on m.id = r.meter_id',
    );

  /** Runs `fault`, then counts what the gateway numbered meanwhile and what reached the store. */
  async function phase(fault: string, run: () => Promise<void>, expectNoLoss = true): Promise<void> {
    const before = numbered();
    await run();
    await new Promise((r) => setTimeout(r, PHASE_MS / 2));
    const after = numbered();
    const inRange = (meter: string, seq: number) =>
      seq > (before.get(meter) ?? 0) && seq <= (after.get(meter) ?? 0);
    let total = 0;
    for (const [m, n] of after) total += n - (before.get(m) ?? 0);
    const count = () => {
      const rs = storedRows().filter((r) => inRange(r.meter, r.seq));
      return { rows: rs.length, distinct: new Set(rs.map((r) => `${r.meter}#${r.seq}`)).size };
    };
    await waitFor(() => count().distinct === total, 30_000, `${fault}: every reading stored`).catch(
      () => undefined,
    );
    const { rows: n, distinct } = count();
    const row = {
      fault,
      numbered: total,
      stored: distinct,
      lost: total - distinct,
      duplicated: n - distinct,
    };
    rows.push(row);
    if (expectNoLoss) expect(row, fault).toMatchObject({ lost: 0, duplicated: 0 });
    expect(row.numbered, fault).toBeGreaterThan(0);
  }

  beforeAll(async () => {
    field = await startField({ concentrators: [{ transport: 'modbus-tcp', meters: 6 }], pollInterval: 250 });
    broker = await startMosquitto();
    config = join(field.dir, 'campus.yaml');
    writeFileSync(config, stringify({ ...field.raw, mqtt: { url: broker.url } }));
    ingest = cli(['ingest', '-c', config]);
    gateway = cli(['gateway', '-c', config, '-g', 'gw1']);
    await waitFor(
      () => new Set(storedRows().map((r) => r.meter)).size === field.meterIds.length,
      60_000,
      'readings of every meter stored',
    );
  }, 90_000);

  afterAll(async () => {
    for (const c of [gateway, ingest]) {
      if (c && c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await exited(c);
      }
    }
    await broker?.dispose();
    await field?.stop();
    console.log(
      [
        'fault | numbered | stored | lost | duplicated',
        ...rows.map((r) => `${r.fault} | ${r.numbered} | ${r.stored} | ${r.lost} | ${r.duplicated}`),
      ].join('\n'),
    );
  });

  it('loses and duplicates nothing through kills and outages of gateway, ingest and broker', async () => {
    await phase('steady state', () => new Promise((r) => setTimeout(r, PHASE_MS)));
    await phase('gateway SIGKILL, restarted 2 s later', async () => {
      gateway.kill('SIGKILL');
      await exited(gateway);
      await new Promise((r) => setTimeout(r, 2_000));
      gateway = cli(['gateway', '-c', config, '-g', 'gw1']);
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
    // The gap that remains (README, durability): what the broker acknowledged to the gateway and
    // had neither delivered and had acknowledged by ingest nor saved is lost with a SIGKILL.
    await phase(
      'broker SIGKILL with ingest connected (the gap that remains)',
      async () => {
        await broker.kill();
        await broker.restart();
        await new Promise((r) => setTimeout(r, PHASE_MS));
      },
      false,
    );
    await phase(
      'broker SIGKILL while ingest is away (the gap that remains)',
      async () => {
        ingest.kill('SIGKILL');
        await exited(ingest);
        await new Promise((r) => setTimeout(r, 3_000)); // readings queue in the broker for ingest
        await broker.kill();
        await broker.restart();
        ingest = cli(['ingest', '-c', config]);
        await new Promise((r) => setTimeout(r, PHASE_MS));
      },
      false,
    );
    for (const gap of rows.slice(-2)) {
      expect(gap.stored + gap.lost).toBe(gap.numbered);
      expect(gap.duplicated).toBe(0);
    }
  }, 240_000);
});
