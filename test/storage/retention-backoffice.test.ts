import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { loadCampus } from '../../config/campus.ts';
import { createBackofficeServer, type RunningBackofficeServer } from '../../services/backoffice/server.ts';
import { RETENTION_ACTOR } from '../../services/backoffice/parts/retention.ts';
import { intervalConsumption } from '../../services/metering/consumption/consumption.ts';
import { GapTracker } from '../../services/metering/ingest/seq-gaps.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { pino, type Logger } from 'pino';
import { testLogger } from '../helpers/logger.ts';

/**
 * Retention as the back office runs it, on the embedded store with rawDays 10 and a fixed clock:
 * a day 20 days old goes when nothing holds it (its roll-ups stay, and daily consumption still
 * answers from them), and stays while billing, VEE, ingest or an open alert still needs it; a hold
 * source that cannot answer stops the run. Every hold is made by the real service (a billing
 * accounts file, a VEE pass, ingest's gap tracker and its ledger, an alert from a finding).
 */

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1) - 8 * 3_600_000; // a local midnight in Asia/Shanghai
const DAYS = 30;
const NOW = T0 + DAYS * DAY + 6 * 3_600_000;
/** 20 days old: past rawDays (10), in no day retention keeps for age. */
const DAY_X = T0 + 10 * DAY;
/** Raw readings go in whole UTC days (the store's chunks): a hold keeps the UTC day it starts in. */
const utcDayStart = (ts: number) => Math.floor(ts / DAY) * DAY;
/** Where the age limit (NOW - rawDays) keeps raw readings from. */
const AGE_DAY_START = utcDayStart(NOW - 10 * DAY);
/** Readings each meter has before AGE_DAY_START: what retention deletes with nothing held. */
const PAST_AGE = Math.ceil((AGE_DAY_START - T0 - 500) / 900_000);
const HELD = 'E-CANTEEN';
const OTHER = 'E-BLDG-A';
const METERS = [HELD, OTHER];
const logger = testLogger();
const INSPECTOR = { id: 'wang.jian', kind: 'user' as const, roles: ['inspector' as const] };

let broker: EmbeddedBroker;
const dirs: string[] = [];
beforeAll(async () => {
  broker = await startEmbeddedBroker();
});
afterAll(async () => {
  await broker.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Every 15 minutes a register in 0.01 kWh steps. */
function readingsOf(meter: string): StoredReading[] {
  const out: StoredReading[] = [];
  let register = meter === HELD ? 50_000 : 9_000;
  for (let i = 0; i < DAYS * 96 + 20; i++) {
    register += 3 + ((i * 7) % 11);
    out.push({
      ...{ meter, seq: i + 1, ts: T0 + i * 900_000 + 500, site: 'east', gateway: 'gw-east-1' },
      kind: 'electricity',
      quality: 'good',
      values: { energy_import_kwh: register / 100, power_kw: 1.2 },
    });
  }
  return out;
}

interface Campus {
  dir: string;
  file: string;
  store: SqliteStore;
}

/** Ingest's gap tracker over a store with its ledger at `ledgerPath`, as ingest keeps it. */
function gapTracker(store: SqliteStore, ledgerPath: string): GapTracker {
  return new GapTracker({
    index: store,
    placeOf: (m) => (METERS.includes(m) ? { site: 'east', gateway: 'gw-east-1' } : undefined),
    request: () => {},
    onLost: () => {},
    ledgerPath,
    graceMs: 0,
    now: () => NOW,
  });
}

/** Ingest has run with this ledger and follows no gap (its ledger exists, with no open mark). */
async function ingestLedgerWithoutGaps(store: SqliteStore, ledgerPath: string): Promise<void> {
  const tracker = gapTracker(store, ledgerPath);
  await tracker.seed();
  await tracker.check();
  tracker.close();
}

/**
 * A campus folder with rawDays 10 and its embedded store holding 30 days of both meters; ingest's
 * gap ledger is in the folder (no gap open) unless `ingestHere` is false. `extra` is appended to
 * the campus file (top-level keys other than storage) and `retention` to storage.retention.
 */
async function campusWithReadings(
  opts: { ingestHere?: boolean; retention?: string; extra?: string } = {},
): Promise<Campus> {
  const dir = mkdtempSync(join(tmpdir(), 'campus-retention-'));
  dirs.push(dir);
  const file = join(dir, 'campus.yaml');
  writeFileSync(
    file,
    readFileSync('config/examples/campus.yaml', 'utf8').replace(/^dataDir: .*$/m, 'dataDir: .') +
      '\nstorage:\n  retention:\n    rawDays: 10\n' +
      (opts.retention ?? '') +
      (opts.extra ?? ''),
  );
  const store = SqliteStore.open({
    path: join(dir, 'store.sqlite'),
    dailyUtcOffsetMinutes: 480,
    clock: () => NOW,
  });
  for (const m of METERS) {
    const rs = readingsOf(m);
    for (let i = 0; i < rs.length; i += 2000) await store.writeReadings(rs.slice(i, i + 2000));
  }
  store.compact();
  if (opts.ingestHere !== false) await ingestLedgerWithoutGaps(store, join(dir, 'ingest-gaps.sqlite'));
  return { dir, file, store };
}

/** The back office as `campus-energy run` starts it (its API on a free loopback port). */
async function start(c: Campus, log: Logger = logger): Promise<RunningBackofficeServer> {
  return createBackofficeServer({
    campus: loadCampus(c.file),
    mqtt: { url: broker.url },
    store: c.store,
    logger: log,
    clock: () => NOW,
    http: { host: '127.0.0.1', port: 0, secureCookie: false },
    detection: false,
    scryptCost: 1024,
  });
}

const rawOfDayX = async (store: SqliteStore, meter: string) =>
  (await store.readings(meter, DAY_X, DAY_X + DAY)).length;

const dailyUse = (store: SqliteStore, meter: string) =>
  intervalConsumption(store, {
    meters: [meter],
    quantity: 'energy_import_kwh',
    from: DAY_X,
    to: DAY_X + 2 * DAY,
    step: '1d',
    timezone: 'Asia/Shanghai',
  });

describe('retention run by the back office, with the services’ holds', () => {
  it("deletes a day past rawDays that nothing holds; its roll-ups stay and still give each day's consumption", async () => {
    const c = await campusWithReadings();
    const bo = await start(c);
    expect(await rawOfDayX(c.store, HELD)).toBe(96);
    const before = await dailyUse(c.store, HELD);
    expect(before[0]!.status).toBe('ok');

    const run = await bo.retention.runNow();
    expect(run).toMatchObject({ ok: true, holds: 0 });
    expect(run.deletedReadings).toBe(2 * PAST_AGE);
    for (const m of METERS) expect((await c.store.readings(m, 0, NOW))[0]!.ts).toBe(AGE_DAY_START + 500);
    for (const m of METERS) expect(await rawOfDayX(c.store, m)).toBe(0);
    // Days inside rawDays keep their raw readings.
    expect((await c.store.readings(HELD, NOW - 5 * DAY, NOW)).length).toBeGreaterThan(4 * 96);
    expect(await c.store.rollups(HELD, '15m', DAY_X, DAY_X + DAY)).toHaveLength(96);
    // Interval consumption reads raw readings only (it does not fall back to roll-ups yet): the
    // day's consumption is the difference of consecutive daily roll-ups' last registers, the same
    // as from raw readings within one 15-minute step (at most 0.13 kWh here).
    const days = await c.store.rollups(HELD, '1d', DAY_X - DAY, DAY_X + 2 * DAY);
    expect(days.map((d) => d.start)).toEqual([DAY_X - DAY, DAY_X, DAY_X + DAY]);
    for (let i = 0; i < before.length; i++) {
      const fromRollups = days[i + 1]!.values.energy_import_kwh! - days[i]!.values.energy_import_kwh!;
      expect(Math.abs(fromRollups - before[i]!.value!)).toBeLessThanOrEqual(0.14);
    }

    const metrics = await bo.app!.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain(`campus_energy_retention_deleted_readings_total ${2 * PAST_AGE}\n`);
    expect(metrics.body).toContain('campus_energy_retention_runs_total{result="ok"} 1\n');
    const audited = bo.audit.query({ action: 'storage.retention' });
    expect(audited).toHaveLength(1);
    expect(audited[0]!.actor).toBe(RETENTION_ACTOR);
    // A second run has nothing more to delete.
    expect((await bo.retention.runNow()).deletedReadings).toBe(0);
    await bo.stop();
    await c.store.close();
  }, 60_000);

  it('keeps the day while a billing period covering it is open (nothing billed yet for the meter)', async () => {
    const c = await campusWithReadings();
    writeFileSync(
      join(c.dir, 'billing-accounts.yaml'),
      stringify({
        accounts: [
          {
            id: 'CANTEEN-1',
            holder: 'Canteen operator',
            customerType: 'business',
            meters: [{ meter: HELD, utility: 'electricity' }],
          },
        ],
      }),
    );
    const bo = await start(c);
    const run = await bo.retention.runNow();
    // Held: the billed meter and the campus file's other customer meters (any may become billed).
    expect(run).toMatchObject({ ok: true, holds: 5, heldMeters: 1 });
    expect(await rawOfDayX(c.store, HELD)).toBe(96);
    expect(await rawOfDayX(c.store, OTHER)).toBe(0);
    await bo.stop();
    await c.store.close();
  }, 60_000);

  it('keeps the days VEE has not validated yet, and deletes the validated ones before them', async () => {
    const c = await campusWithReadings();
    const bo = await start(c);
    // VEE validates the meter's days up to DAY_X (not included), as a readings page would ask.
    const validated = await bo.vee.intervals({
      meter: HELD,
      quantity: 'energy_import_kwh',
      from: T0,
      to: DAY_X,
      step: '1d',
    });
    expect(validated.length).toBeGreaterThan(0);
    const run = await bo.retention.runNow();
    expect(run.ok).toBe(true);
    expect(await rawOfDayX(c.store, HELD)).toBe(96);
    expect(await c.store.readings(HELD, DAY_X - DAY, utcDayStart(DAY_X))).toEqual([]);
    expect(await rawOfDayX(c.store, OTHER)).toBe(0);
    await bo.stop();
    await c.store.close();
  }, 60_000);

  it('keeps every raw reading of a meter while ingest follows an open gap on it', async () => {
    const c = await campusWithReadings();
    // Ingest's own gap tracker over this store, with its ledger in the data folder.
    const tracker = gapTracker(c.store, join(c.dir, 'ingest-gaps.sqlite'));
    await tracker.seed();
    await tracker.check();
    // The gateway announces seqs no store holds: a gap is open on one meter.
    tracker.announced(HELD, DAYS * 96 + 25);
    tracker.close();
    const bo = await start(c);
    const run = await bo.retention.runNow();
    expect(run).toMatchObject({ ok: true, holds: 1 });
    expect(await rawOfDayX(c.store, HELD)).toBe(96);
    expect((await c.store.readings(HELD, 0, NOW))[0]!.seq).toBe(1);
    expect(await rawOfDayX(c.store, OTHER)).toBe(0);
    await bo.stop();
    await c.store.close();
  }, 60_000);

  it("keeps the day while an open alert's evidence window covers it, and deletes it once the alert is decided", async () => {
    const c = await campusWithReadings();
    const bo = await start(c);
    const [alert] = bo.alerts.sync([
      {
        type: 'meter-drop',
        key: `meter-drop:${HELD}`,
        severity: 'medium',
        meter: HELD,
        score: 3,
        since: DAY_X + 3_600_000,
        reason: 'consumption dropped',
        evidence: { from: DAY_X, to: DAY_X + 5 * DAY, figures: {} },
      },
    ]).opened;
    expect((await bo.retention.runNow()).ok).toBe(true);
    expect(await rawOfDayX(c.store, HELD)).toBe(96);
    expect(await c.store.readings(HELD, DAY_X - DAY, utcDayStart(DAY_X))).toEqual([]);
    expect(await rawOfDayX(c.store, OTHER)).toBe(0);
    const stillHeld = (await c.store.readings(HELD, 0, AGE_DAY_START)).length;
    expect(stillHeld).toBeGreaterThan(96);

    bo.alerts.dismiss(alert!.id, { notes: 'a holiday week: the canteen was closed', actor: INSPECTOR });
    expect((await bo.retention.runNow()).deletedReadings).toBe(stillHeld);
    expect((await c.store.readings(HELD, 0, NOW))[0]!.ts).toBe(AGE_DAY_START + 500);
    await bo.stop();
    await c.store.close();
  }, 60_000);

  it('deletes nothing when a hold source cannot answer, and says which', async () => {
    const c = await campusWithReadings();
    // A billing accounts file broken by a bad edit: billing cannot say which meters it bills.
    writeFileSync(join(c.dir, 'billing-accounts.yaml'), 'accounts:\n  - id: CANTEEN-1\n    meters: [oops\n');
    const lines: string[] = [];
    const bo = await start(c, pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }));
    const run = await bo.retention.runNow();
    expect(run.ok).toBe(false);
    const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string; error?: string });
    expect(logged.filter((l) => l.level >= 50)).toEqual([
      expect.objectContaining({ msg: 'retention not applied: nothing deleted', error: run.error }),
    ]);
    expect(run.error).toMatch(/hold source billing failed/);
    for (const m of METERS) expect(await rawOfDayX(c.store, m)).toBe(96);
    // The ingest ledger is not a database any more: the run stops there as well.
    writeFileSync(join(c.dir, 'billing-accounts.yaml'), 'accounts: []\n');
    writeFileSync(join(c.dir, 'ingest-gaps.sqlite'), 'not a database, a torn copy');
    const second = await bo.retention.runNow();
    expect(second.ok).toBe(false);
    expect(second.error).toMatch(/hold source ingest-gaps failed/);
    for (const m of METERS) expect(await rawOfDayX(c.store, m)).toBe(96);
    const runs = bo.retention.metrics().find((f) => f.name === 'campus_energy_retention_runs_total')!;
    expect(runs.samples).toEqual([
      { labels: { result: 'ok' }, value: 0 },
      { labels: { result: 'failed' }, value: 2 },
    ]);
    expect(bo.audit.query({ action: 'storage.retention' })).toEqual([]);
    // Repaired (ingest rebuilds its ledger), the next run deletes as usual.
    rmSync(join(c.dir, 'ingest-gaps.sqlite'));
    await ingestLedgerWithoutGaps(c.store, join(c.dir, 'ingest-gaps.sqlite'));
    expect((await bo.retention.runNow()).deletedReadings).toBe(2 * PAST_AGE);
    await bo.stop();
    await c.store.close();
  }, 60_000);
});

/** The back office's log lines as JSON, and a logger that writes them there. */
function captured(): { lines: { level: number; msg: string; error?: string }[]; log: Logger } {
  const lines: { level: number; msg: string; error?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  return { lines, log };
}

/** A request as a new member of staff with `role`, signed in for it. */
async function asRole(bo: RunningBackofficeServer, role: 'supervisor' | 'clerk', method: 'GET', url: string) {
  const username = `${role}.retention`;
  if (!bo.users.getUser(username))
    await bo.users.provisionUser({
      username,
      displayName: username,
      roles: [role],
      password: 'pw-retention-test',
    });
  const { token } = await bo.users.login(username, 'pw-retention-test', { ip: '127.0.0.1' });
  return bo.app!.inject({ method, url, headers: { authorization: `Bearer ${token}` } });
}

const gauge = (bo: RunningBackofficeServer, name: string) =>
  bo.retention.metrics().find((f) => f.name === name)?.samples;

describe("retention and ingest's gap ledger (ingest may run on another machine)", () => {
  it('deletes nothing while the gap ledger is not where the campus file says, and says so in the log, the metric and the status', async () => {
    // Ingest runs elsewhere: no ledger in this data folder, so which meters have a gap is unknown.
    const c = await campusWithReadings({ ingestHere: false });
    const { lines, log } = captured();
    const bo = await start(c, log);
    const run = await bo.retention.runNow();
    expect(run).toMatchObject({ ok: false, blockedBy: 'ingest-gaps' });
    expect(run.error).toContain(join(c.dir, 'ingest-gaps.sqlite'));
    expect(run.error).toMatch(/hold source ingest-gaps failed/);
    expect(run.error).toMatch(/ingest\.gapLedgerPath/);
    expect(run.error).toMatch(/storage\.retention\.ingestGaps: elsewhere-accepted/);
    for (const m of METERS) expect(await rawOfDayX(c.store, m)).toBe(96);
    expect(bo.retention.last()).toEqual(run);
    expect(lines.filter((l) => l.level >= 50)).toEqual([
      expect.objectContaining({ msg: 'retention not applied: nothing deleted', error: run.error }),
    ]);
    expect(gauge(bo, 'campus_energy_retention_blocked')).toContainEqual({
      labels: { source: 'ingest-gaps' },
      value: 1,
    });
    const metrics = await bo.app!.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('campus_energy_retention_blocked{source="ingest-gaps"} 1\n');
    expect(metrics.body).toContain('campus_energy_retention_runs_total{result="failed"} 1\n');
    expect(bo.audit.query({ action: 'storage.retention' })).toEqual([]);
    // And in the retention status, to whoever reads the audit log (a clerk does not).
    const status = await asRole(bo, 'supervisor', 'GET', '/api/retention');
    expect(status.statusCode).toBe(200);
    expect(status.json()).toEqual({
      settings: { rawDays: 10, every: 24 * 3_600_000, ingestGaps: 'ledger' },
      last: { ...run },
    });
    expect((await asRole(bo, 'clerk', 'GET', '/api/retention')).statusCode).toBe(403);

    // Ingest starts on this machine: its ledger appears, no gap is open, the next run deletes.
    await ingestLedgerWithoutGaps(c.store, join(c.dir, 'ingest-gaps.sqlite'));
    const next = await bo.retention.runNow();
    expect(next).toMatchObject({ ok: true, deletedReadings: 2 * PAST_AGE });
    expect(next.blockedBy).toBeUndefined();
    expect(gauge(bo, 'campus_energy_retention_blocked')).toContainEqual({
      labels: { source: 'ingest-gaps' },
      value: 0,
    });
    await bo.stop();
    await c.store.close();
  }, 60_000);

  it('reads the gaps where ingest.gapLedgerPath says they are kept (another folder)', async () => {
    const shared = mkdtempSync(join(tmpdir(), 'campus-ingest-share-'));
    dirs.push(shared);
    const ledger = join(shared, 'gaps.sqlite');
    const c = await campusWithReadings({
      ingestHere: false,
      extra: `ingest:\n  gapLedgerPath: ${ledger}\n`,
    });
    const tracker = gapTracker(c.store, ledger);
    await tracker.seed();
    await tracker.check();
    tracker.announced(HELD, DAYS * 96 + 25);
    tracker.close();
    const bo = await start(c);
    expect(await bo.retention.runNow()).toMatchObject({ ok: true, holds: 1 });
    expect(await rawOfDayX(c.store, HELD)).toBe(96);
    expect(await rawOfDayX(c.store, OTHER)).toBe(0);
    await bo.stop();
    await c.store.close();
  }, 60_000);

  it('with the ledger elsewhere explicitly accepted, runs without the gap hold and says so at every run', async () => {
    const c = await campusWithReadings({
      ingestHere: false,
      retention: '    ingestGaps: elsewhere-accepted\n',
    });
    const { lines, log } = captured();
    const bo = await start(c, log);
    const run = await bo.retention.runNow();
    expect(run).toMatchObject({ ok: true, unheld: ['ingest-gaps'], deletedReadings: 2 * PAST_AGE });
    const said = () => lines.filter((l) => l.level === 40 && /gap ledger is elsewhere/.test(l.msg));
    expect(said()).toHaveLength(1);
    expect(said()[0]!.msg).toMatch(/storage\.retention\.ingestGaps/);
    expect(gauge(bo, 'campus_energy_retention_unheld')).toEqual([
      { labels: { source: 'ingest-gaps' }, value: 1 },
    ]);
    expect(bo.audit.query({ action: 'storage.retention' })[0]!.after).toMatchObject({
      unheld: ['ingest-gaps'],
    });
    await bo.retention.runNow();
    expect(said()).toHaveLength(2);
    await bo.stop();
    await c.store.close();
  }, 60_000);

  it('with replay turned off ingest follows no gap and keeps no ledger: nothing to hold', async () => {
    const c = await campusWithReadings({ ingestHere: false, extra: 'ingest:\n  replay: null\n' });
    const bo = await start(c);
    const run = await bo.retention.runNow();
    expect(run).toMatchObject({ ok: true, deletedReadings: 2 * PAST_AGE });
    expect(run.unheld).toBeUndefined();
    await bo.stop();
    await c.store.close();
  }, 60_000);
});
