import { spawn } from 'node:child_process';
import { InfluxDB } from 'influx';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatReading, InfluxStore } from '../../adapters/influx/store.ts';
import { QUANTITY_FIELDS } from '../../adapters/influx/line-protocol.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { rawLineProtocolWrite } from '../helpers/influx-raw.ts';
import { influxdAvailable, startInfluxd, type Influxd } from '../helpers/influxd.ts';
import {
  DAY,
  MIN,
  expectSame,
  expectedDays,
  expectedSlots,
  meterReadings,
} from '../storage/rollup-definition.ts';

/**
 * A database deployed with the old roll-up definition (any reading with values rolled up, uncertain
 * ones included; breaker state as a mean) moves to the current one at start, once: its continuous
 * queries replaced and the days its raw readings hold recomputed; a process killed midway resumes
 * where it stopped; days whose raw readings were already gone keep their old roll-ups.
 */

const D0 = Date.UTC(2026, 2, 2) - 8 * 3_600_000; // local midnight, Asia/Shanghai
const N = 8; // days of raw readings
const CLOCK = D0 + (N - 1) * DAY + 15 * 3_600_000; // in the afternoon of the last day
const OLD_DAY = D0 - 40 * DAY; // roll-ups only: its raw readings went long ago
const METERS = Array.from({ length: 10 }, (_, i) => `M-${i}`);

/** The old continuous queries' SELECT … INTO, as they were deployed (before issue 16 item 4). */
function oldSelect(DB: string, step: '15m' | '1d', time = ''): string {
  const last = new Set(['energy_import_kwh', 'energy_export_kwh', 'volume_m3', 'heat_kwh', 'relay_closed']);
  const fields = QUANTITY_FIELDS.map((f) => `${last.has(f) ? 'last' : 'mean'}("${f}") AS "${f}"`);
  const where = time ? ` WHERE ${time}` : '';
  if (step === '15m')
    return (
      `SELECT ${fields.join(', ')}, max("power_kw") AS "power_kw_max", count("seq") AS "readings" ` +
      `INTO "${DB}"."rollup_15m"."reading" FROM "${DB}"."raw"."reading"${where} GROUP BY time(15m), *`
    );
  return (
    `SELECT ${fields.join(', ')}, max("power_kw_max") AS "power_kw_max", sum("readings") AS "readings" ` +
    `INTO "${DB}"."rollup_1d"."reading" FROM "${DB}"."rollup_15m"."reading"${where} GROUP BY time(1d, -480m), *`
  );
}

function runChild(url: string, DB: string): Promise<'killed' | 'done'> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/influx/rollup-migration-child.ts', url, DB, String(CLOCK)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      // Killed as soon as the first day is recorded: the others are still to come.
      if (out.includes('a day recomputed')) child.kill('SIGKILL');
    });
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve('killed');
      else if (code === 0) resolve('done');
      else reject(new Error(`child exited ${code}: ${err}`));
    });
  });
}

describe.skipIf(!influxdAvailable())('moving a deployed InfluxDB to the good-readings-only roll-ups', () => {
  let influxd: Influxd;
  let client: InfluxDB;
  const written = new Map<string, StoredReading[]>();

  const state = async (): Promise<{ from: number; target: number } | undefined> =>
    (
      await client.query<{ from: number; target: number }>(
        'SELECT "from", "target" FROM "schema"."rollup_definition"',
      )
    )[0];
  /** One database's continuous queries (SHOW CONTINUOUS QUERIES lists every database's). */
  const cqNames = async (db = 'deployed'): Promise<string[]> => {
    const res = (await client.queryRaw('SHOW CONTINUOUS QUERIES')) as {
      results: Array<{ series?: Array<{ name: string; values?: unknown[][] }> }>;
    };
    const series = res.results[0]?.series?.find((x) => x.name === db);
    return (series?.values ?? []).map((row) => String(row[0])).sort();
  };

  /** A database as the old release left it: raw readings, the old queries and their roll-ups. */
  async function deploy(DB: string): Promise<void> {
    const client = new InfluxDB({ host: '127.0.0.1', port: influxd.port, database: DB });
    await client.createDatabase(DB);
    await client.createRetentionPolicy('raw', {
      database: DB,
      duration: 'INF',
      replication: 1,
      isDefault: true,
    });
    for (const rp of ['rollup_15m', 'rollup_1d'])
      await client.createRetentionPolicy(rp, { database: DB, duration: 'INF', replication: 1 });
    await client.query(
      `CREATE CONTINUOUS QUERY "cq_reading_15m" ON "${DB}" RESAMPLE EVERY 5m FOR 1h BEGIN ${oldSelect(DB, '15m')} END`,
    );
    await client.query(
      `CREATE CONTINUOUS QUERY "cq_reading_1d" ON "${DB}" RESAMPLE EVERY 1h FOR 2d BEGIN ${oldSelect(DB, '1d')} END`,
    );
    const lines: string[] = [];
    METERS.forEach((meter, i) => {
      const readings = meterReadings(meter, 5 * MIN, 100 + i, {
        from: D0,
        days: N,
        firstAt: 0,
        closing: false,
      });
      written.set(meter, readings);
      for (const r of readings) lines.push(formatReading(r));
    });
    await rawLineProtocolWrite(influxd.url, DB, lines, 5000);
    const time = `time >= ${D0 - DAY}ms AND time < ${D0 + (N + 1) * DAY}ms`;
    await client.query(oldSelect(DB, '15m', time));
    await client.query(oldSelect(DB, '1d', time));
    // A day of roll-ups only, its raw readings long gone.
    const res = await fetch(`${influxd.url}/write?db=${DB}&rp=rollup_15m&precision=ms`, {
      method: 'POST',
      body: `reading,gateway=gw-east-1,kind=electricity,meter=M-0,site=east energy_import_kwh=123.45,readings=3i ${OLD_DAY + 30 * MIN}`,
    });
    expect(res.status).toBe(204);
  }

  beforeAll(async () => {
    influxd = await startInfluxd();
    client = new InfluxDB({ host: '127.0.0.1', port: influxd.port, database: 'deployed' });
    await deploy('deployed');
  }, 60_000);
  afterAll(async () => {
    await influxd?.dispose();
  });

  it('the old roll-ups were wrong where it matters: an uncertain register in a slot', async () => {
    const rows = await client.query<{ max: number }>(
      `SELECT max("energy_import_kwh") FROM "rollup_15m"."reading" WHERE time >= ${D0}ms`,
    );
    expect(rows[0]!.max).toBeGreaterThan(50_000);
  });

  it('replaces the continuous queries, recomputes every day raw readings hold, resumes after a kill, and keeps older days', async () => {
    expect(await runChild(influxd.url, 'deployed')).toBe('killed');
    // Killed midway: the queries already replaced, the boundary recorded somewhere between.
    expect(await cqNames()).toEqual(['cq_rollup_15m', 'cq_rollup_15m_polls', 'cq_rollup_1d']);
    const killed = await state();
    expect(killed?.target).toBe(D0);
    expect(killed!.from).toBeGreaterThan(D0);
    expect(killed!.from).toBeLessThan(D0 + N * DAY);

    const logs: Array<{ msg: string; day?: string }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    const store = await InfluxStore.open({
      url: influxd.url,
      database: 'deployed',
      dailyUtcOffsetMinutes: 480,
      clock: () => CLOCK,
      logger,
    });
    await store.rollupsSettled();
    // Resumed at the boundary: each remaining day once, newest first, none done before again.
    const days = logs.filter((l) => l.msg.includes('a day recomputed')).map((l) => Date.parse(l.day!));
    expect(days).toEqual(
      Array.from({ length: (killed!.from - D0) / DAY }, (_, k) => killed!.from - (k + 1) * DAY),
    );
    expect(await state()).toEqual({ time: expect.anything(), from: D0, target: D0 });

    for (const meter of METERS.slice(0, 3)) {
      const slots = expectedSlots(written.get(meter)!, D0, D0 + N * DAY);
      expectSame(await store.rollups(meter, '15m', D0, D0 + N * DAY), slots, `${meter} 15m`);
      expectSame(await store.rollups(meter, '1d', D0, D0 + N * DAY), expectedDays(slots), `${meter} 1d`);
    }
    const registers = await store.registerSlots({
      meters: METERS,
      quantity: 'energy_import_kwh',
      from: D0,
      to: D0 + N * DAY,
    });
    expect(registers.length).toBeGreaterThan(N * 90 * METERS.length * 0.5);
    expect(registers.every((s) => s.value < 50_000)).toBe(true);
    // Past the raw readings: the old roll-up, as it was (nothing could recompute it).
    expect(
      await store.registerSlots({
        meters: ['M-0'],
        quantity: 'energy_import_kwh',
        from: OLD_DAY,
        to: OLD_DAY + DAY,
      }),
    ).toEqual([{ meter: 'M-0', start: OLD_DAY + 30 * MIN, value: 123.45, readings: 3 }]);
    await store.close();

    // Once: a further start recomputes nothing and changes nothing.
    logs.length = 0;
    const again = await InfluxStore.open({
      url: influxd.url,
      database: 'deployed',
      dailyUtcOffsetMinutes: 480,
      clock: () => CLOCK + DAY,
      logger,
    });
    await again.rollupsSettled();
    expect(logs.filter((l) => l.msg.startsWith('roll-ups'))).toEqual([]);
    expect(await state()).toEqual({ time: expect.anything(), from: D0, target: D0 });
    expect(await cqNames()).toEqual(['cq_rollup_15m', 'cq_rollup_15m_polls', 'cq_rollup_1d']);
    await again.close();
  }, 120_000);
  it('stops where retention took raw readings meanwhile: the days before keep their old roll-ups, none is lost', async () => {
    await deploy('shrunk');
    const c = new InfluxDB({ host: '127.0.0.1', port: influxd.port, database: 'shrunk' });
    expect(await runChild(influxd.url, 'shrunk')).toBe('killed');
    // While the process is down, influxd drops the raw readings' oldest shard group.
    const shards = (await c.queryRaw('SHOW SHARDS')) as {
      results: Array<{ series?: Array<{ name: string; columns: string[]; values: unknown[][] }> }>;
    };
    const mine = shards.results[0]!.series!.find((x) => x.name === 'shrunk')!;
    const col = (name: string): number => mine.columns.indexOf(name);
    const rawEnds = mine.values
      .filter((v) => v[col('retention_policy')] === 'raw')
      .map((v) => Date.parse(String(v[col('end_time')])))
      .sort((a, b) => a - b);
    const keepDays = Math.floor((Date.now() - rawEnds[0]!) / DAY) - 1;
    await c.query(`ALTER RETENTION POLICY "raw" ON "shrunk" DURATION ${keepDays}d`);
    const firstRaw = async (): Promise<number> =>
      Number((await c.query<{ time: Date }>('SELECT first("seq") FROM "raw"."reading"'))[0]!.time.getTime());
    for (let i = 0; (await firstRaw()) < rawEnds[0]!; i++) {
      if (i > 100) throw new Error('influxd kept the shard group');
      await new Promise((r) => setTimeout(r, 200));
    }
    const kept = Math.ceil((rawEnds[0]! + 8 * 3_600_000) / DAY) * DAY - 8 * 3_600_000;
    expect(kept).toBeGreaterThan(D0);
    const oldRollups = (from: number, to: number) =>
      c.query<{ time: Date; energy_import_kwh: number | null }>(
        `SELECT "energy_import_kwh" FROM "rollup_15m"."reading" WHERE "meter" = 'M-0' AND time >= ${from}ms AND time < ${to}ms`,
      );
    const before = await oldRollups(D0, kept);

    const store = await InfluxStore.open({
      url: influxd.url,
      database: 'shrunk',
      dailyUtcOffsetMinutes: 480,
      clock: () => CLOCK,
    });
    await store.rollupsSettled();
    const settled = (
      await c.query<{ from: number; target: number }>(
        'SELECT "from", "target" FROM "schema"."rollup_definition"',
      )
    )[0];
    expect(settled).toMatchObject({ from: kept, target: kept });
    // From the first day wholly held: the definition.
    const slots = expectedSlots(written.get('M-0')!, kept, D0 + N * DAY);
    expectSame(await store.rollups('M-0', '15m', kept, D0 + N * DAY), slots, 'M-0 15m');
    // Before it: the old roll-ups as they were (implausible registers and all), not nothing.
    const old = await store.rollups('M-0', '15m', D0, kept);
    expect(
      old
        .filter((r) => r.values.energy_import_kwh !== undefined)
        .map((r) => [r.start, r.values.energy_import_kwh]),
    ).toEqual(before.map((r) => [r.time.getTime(), r.energy_import_kwh]));
    expect(before.length).toBeGreaterThan(0);
    expect(before.some((r) => (r.energy_import_kwh ?? 0) > 50_000)).toBe(true);
    await store.close();
  }, 120_000);
  it('two processes starting at once on the old database (ingest and the back office) both open and end alike', async () => {
    await deploy('twice');
    const c = new InfluxDB({ host: '127.0.0.1', port: influxd.port, database: 'twice' });
    const open = () =>
      InfluxStore.open({
        url: influxd.url,
        database: 'twice',
        dailyUtcOffsetMinutes: 480,
        clock: () => CLOCK,
      });
    const [a, b] = await Promise.all([open(), open()]);
    await Promise.all([a.rollupsSettled(), b.rollupsSettled()]);
    expect(await cqNames('twice')).toEqual(['cq_rollup_15m', 'cq_rollup_15m_polls', 'cq_rollup_1d']);
    expect(
      (
        await c.query<{ from: number; target: number }>(
          'SELECT "from", "target" FROM "schema"."rollup_definition"',
        )
      )[0],
    ).toMatchObject({ from: D0, target: D0 });
    const slots = expectedSlots(written.get('M-1')!, D0, D0 + N * DAY);
    for (const store of [a, b]) {
      expectSame(await store.rollups('M-1', '15m', D0, D0 + N * DAY), slots, 'M-1 15m');
      expectSame(await store.rollups('M-1', '1d', D0, D0 + N * DAY), expectedDays(slots), 'M-1 1d');
    }
    await a.close();
    await b.close();
  }, 120_000);
});
