import { Command } from 'commander';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { registerBillingCommands } from '../../../bin/billing-cli.ts';
import { loadCampus, type LoadedCampus } from '../../../config/campus.ts';
import mqtt from 'mqtt';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../../adapters/mqtt/embedded-broker.ts';
import { readingTopic } from '../../../config/schemas/reading.ts';
import { runIngest, type RunningIngest } from '../../../services/metering/ingest/run.ts';
import type { ReadingStore, StoredReading } from '../../../services/metering/storage.ts';
import { campusVee } from '../../../services/metering/vee/campus.ts';
import { loadBillingAccounts } from '../../../services/money/billing/accounts.ts';
import { BillRuns, type BillRun, type MeterBill } from '../../../services/money/billing/bill-run.ts';
import { InvoiceChecks } from '../../../services/money/billing/invoice-check.ts';
import { billingRoutes } from '../../../services/money/billing/routes.ts';
import { parseTariffTable } from '../../../services/money/billing/tariffs.ts';
import { veeRoutes } from '../../../services/metering/vee/routes.ts';
import { openAuditLog } from '../../../services/platform/audit/audit-log.ts';
import { auditKeyPath, backofficePath } from '../../../services/platform/audit/paths.ts';
import type { Role } from '../../../services/platform/auth/roles.ts';
import { Users } from '../../../services/platform/auth/users.ts';
import { openBackofficeDb, type BackofficeDb } from '../../../services/platform/db.ts';
import { buildApi } from '../../../services/platform/http/app.ts';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { PASSWORD, TEST_SCRYPT_COST } from '../../auth/setup.ts';
import { testLogger } from '../../helpers/logger.ts';

/**
 * The golden quarter (issue 23, item 9): quarter/spec.json is the recipe of six meters' readings
 * and four accounts; quarter/compute.py worked out every account-month line by hand from the
 * written rules (no product code) into quarter/expected.json. Here the same readings are published
 * over MQTT to the campus's ingest (an embedded broker on loopback), which stores them, and the
 * quarter is billed month by month through the CLI and through the API, each with its own back
 * office, as staff would: October is billed; then readings held back by a gateway arrive, a
 * supervisor edits an October interval, and a clerk records a meter exchange that a supervisor
 * approves (over HTTP, with real logins); October cannot be billed again; November is billed with
 * adjustment lines for October; then December. Every line must agree to the fen and to the 0.001
 * unit.
 */

const DIR = join(import.meta.dirname, 'quarter');
interface MeterSpec {
  kind: 'electricity' | 'water';
  profile: string;
  start: number;
  modulus?: number;
  campusRolloverAt?: number;
  daily: { base: number; step: number; mult: number; mod: number };
  shape: string;
}
interface Spec {
  timezone: string;
  utcOffsetHours: number;
  readingsFrom: string;
  readingsTo: string;
  now: string;
  months: string[];
  meters: Record<string, MeterSpec>;
  shapes: Record<string, number[]>;
  events: {
    type: 'bad-reading' | 'gap' | 'late-readings' | 'edit' | 'exchange';
    meter: string;
    at?: string;
    deltaMilli?: number;
    after?: string;
    before?: string;
    /** edit: the 15-min interval, its new value, reason code and note. */
    start?: string;
    value?: string;
    reason?: string;
    note?: string;
    /** exchange: the registers the fitter read and the new meter's serial. */
    registerBefore?: string;
    registerAfter?: string;
    newSerial?: string;
    knownAfterRunOf?: string;
  }[];
  accounts: unknown[];
}
interface ExpectedLine {
  account: string;
  meter: string;
  opening: string;
  closing: string;
  quantityMilli: number;
  estimatedMilli: number;
  components: { name: string; amountFen: number }[];
  totalFen: number;
  /** VEE rules the line must name (the month's wraps, bad readings and gaps). */
  named: string[];
}
interface ExpectedAdjustment {
  account: string;
  meter: string;
  adjusts: string;
  quantityMilli: number;
  components: { name: string; amountFen: number }[];
  totalFen: number;
  /** What the line's reason must say. */
  reasonSays: string[];
}
interface Expected {
  months: { period: string; lines: ExpectedLine[]; adjustments: ExpectedAdjustment[]; totalFen: number }[];
}

const spec = JSON.parse(readFileSync(join(DIR, 'spec.json'), 'utf8')) as Spec;
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Expected;
const offset = `+${String(spec.utcOffsetHours).padStart(2, '0')}:00`;
const at = (local: string) => Date.parse(`${local.length === 10 ? `${local}T00:00` : local}${offset}`);
const QUARTER = 15 * 60_000;
const DAY = 86_400_000;
const NOW = at(spec.now);

/** The recipe, as compute.py reads it: the true register (milli-units, unwrapped) at quarter-hour t. */
function trueRegister(m: MeterSpec, t: number): number {
  const origin = at(spec.readingsFrom);
  const w = spec.shapes[m.shape]!;
  const use = (k: number) => m.daily.base + m.daily.step * ((k * m.daily.mult) % m.daily.mod);
  const whole = Math.floor((t - origin) / DAY);
  let r = m.start;
  for (let k = 0; k < whole; k++) r += use(k);
  const q = Math.round((t - origin - whole * DAY) / QUARTER);
  const totalW = 4 * w.reduce((a, b) => a + b, 0);
  let cumW = 0;
  for (let k = 0; k < q; k++) cumW += w[Math.floor(k / 4)]!;
  return r + Math.floor((use(whole) * cumW) / totalW);
}

const milliOf = (decimal: string) => Math.round(Number(decimal) * 1000);
const inside = (e: Spec['events'][number], t: number) => t > at(e.after!) && t < at(e.before!);

/** Every reading the meters send; `late` ones reach ingest only after October is billed. */
function readings(): { onTime: StoredReading[]; late: StoredReading[] } {
  const onTime: StoredReading[] = [];
  const late: StoredReading[] = [];
  for (const [meter, m] of Object.entries(spec.meters)) {
    const quantity = m.kind === 'water' ? 'volume_m3' : 'energy_import_kwh';
    const events = spec.events.filter((e) => e.meter === meter);
    let seq = 0;
    for (let t = at(spec.readingsFrom); t <= at(spec.readingsTo); t += QUARTER) {
      seq++;
      if (events.some((e) => e.type === 'gap' && inside(e, t))) continue;
      let milli = trueRegister(m, t);
      for (const e of events) if (e.type === 'bad-reading' && at(e.at!) === t) milli += e.deltaMilli!;
      // After an exchange the new meter's register: its reading at installation plus what it counted.
      for (const e of events)
        if (e.type === 'exchange' && t > at(e.at!))
          milli = milliOf(e.registerAfter!) + milli - milliOf(e.registerBefore!);
      if (m.modulus) milli %= m.modulus;
      const out = events.some((e) => e.type === 'late-readings' && inside(e, t)) ? late : onTime;
      out.push({
        meter,
        ts: t,
        seq,
        quality: 'good',
        values: { [quantity]: milli / 1000 },
        site: 'east',
        gateway: 'gw-east',
        kind: m.kind,
      });
    }
  }
  return { onTime, late };
}

function campusFile(dir: string): string {
  const meters = Object.entries(spec.meters).map(([id, m], i) => ({
    id,
    kind: m.kind,
    profile: m.profile,
    unitId: i + 1,
    ...(m.campusRolloverAt !== undefined ? { rolloverAt: m.campusRolloverAt } : {}),
  }));
  const campus = {
    campus: { name: 'Golden quarter', timezone: spec.timezone },
    dataDir: '.',
    sites: [
      {
        id: 'east',
        gateways: [{ id: 'gw-east', buses: [{ id: 'bus', type: 'modbus-tcp', host: '127.0.0.1', meters }] }],
      },
    ],
  };
  writeFileSync(join(dir, 'campus.yaml'), stringify(campus));
  writeFileSync(join(dir, 'billing-accounts.yaml'), stringify({ accounts: spec.accounts }));
  copyFileSync(join(DIR, 'tariffs.json'), join(dir, 'tariffs.json'));
  return join(dir, 'campus.yaml');
}

const milliRounded = (v: number | null) => (v === null ? null : Math.round(v * 1000));

function compare(run: BillRun, month: Expected['months'][number]) {
  expect(run.blocked).toEqual([]);
  const own = run.lines.filter((l) => !l.adjusts);
  const got = own.map((l: MeterBill) => ({
    account: l.account,
    meter: l.meter,
    // Registers as printed: to the 0.001 unit (an estimated one is the straight line across a gap).
    opening: milliRounded(l.opening),
    closing: milliRounded(l.closing),
    quantityMilli: l.quantityMilli,
    estimatedMilli: l.estimatedMilli,
    components: l.components,
    totalFen: l.totalFen,
  }));
  const want = month.lines.map((l) => ({
    account: l.account,
    meter: l.meter,
    opening: milliOf(l.opening),
    closing: milliOf(l.closing),
    quantityMilli: l.quantityMilli,
    estimatedMilli: l.estimatedMilli,
    components: l.components,
    totalFen: l.totalFen,
  }));
  expect(got, month.period).toEqual(want);
  for (const [i, l] of month.lines.entries()) {
    // Closing − opening − use is 0 where the registers compare, and not shown across a wrap or an exchange.
    const incomparable = l.named.includes('rollover') || l.named.includes('meter-replaced');
    expect(own[i]!.registerDifferenceMilli, `${month.period} ${l.meter}`).toBe(incomparable ? null : 0);
    const rules = new Set(own[i]!.flags.map((f) => f.rule));
    for (const rule of l.named)
      expect(rules.has(rule as never), `${month.period} ${l.meter} names ${rule}`).toBe(true);
    // A wrap is named only where one happened: never a fall taken for a wrap, nor a wrap missed.
    expect(rules.has('rollover'), `${month.period} ${l.meter} rollover`).toBe(l.named.includes('rollover'));
    expect(rules.has('meter-replaced'), `${month.period} ${l.meter} exchange`).toBe(
      l.named.includes('meter-replaced'),
    );
  }
  // Corrections to a closed month: one adjustment line per meter and month corrected, the difference.
  const adjustments = run.lines.filter((l) => l.adjusts);
  expect(
    adjustments.map((l) => ({
      account: l.account,
      meter: l.meter,
      adjusts: l.adjusts!.period.label,
      quantityMilli: l.quantityMilli,
      components: l.components,
      totalFen: l.totalFen,
    })),
    `${month.period} adjustments`,
  ).toEqual(
    month.adjustments.map(({ reasonSays: _r, ...a }) => ({
      account: a.account,
      meter: a.meter,
      adjusts: a.adjusts,
      quantityMilli: a.quantityMilli,
      components: a.components,
      totalFen: a.totalFen,
    })),
  );
  for (const [i, a] of month.adjustments.entries()) {
    for (const says of a.reasonSays) expect(adjustments[i]!.adjusts!.reason).toContain(says);
  }
  expect(run.totalFen).toBe(month.totalFen);
}

const STAFF: { username: string; roles: Role[] }[] = [
  { username: 'wu.clerk', roles: ['clerk'] },
  { username: 'chen.supervisor', roles: ['supervisor'] },
  { username: 'zhang.billing', roles: ['billing'] },
];
type Who = 'wu.clerk' | 'chen.supervisor' | 'zhang.billing';

/**
 * One back office: its database, real users logged in, VEE over the campus store, and the VEE
 * routes staff use (plus billing's, for the API's back office).
 */
async function backoffice(
  campus: LoadedCampus,
  store: ReadingStore,
  db: BackofficeDb,
  withBilling: boolean,
): Promise<{ app: FastifyInstance; call: Call; billRuns: BillRuns; close: () => Promise<void> }> {
  const audit = openAuditLog(db, () => NOW, auditKeyPath(campus));
  const users = new Users({ db, audit, clock: () => NOW, scryptCost: TEST_SCRYPT_COST });
  await users.bootstrapAdmin('admin', PASSWORD);
  const tokens = new Map<string, string>();
  for (const s of STAFF) {
    await users.provisionUser({
      username: s.username,
      displayName: s.username,
      roles: s.roles,
      password: PASSWORD,
    });
    tokens.set(s.username, (await users.login(s.username, PASSWORD, { ip: '10.1.2.3' })).token);
  }
  const vee = campusVee({ campus, store, db, audit, clock: () => NOW });
  const tariffs = parseTariffTable(JSON.parse(readFileSync(join(DIR, 'tariffs.json'), 'utf8')));
  const billRuns = new BillRuns({
    db,
    audit,
    tariffs,
    source: vee,
    timezone: spec.timezone,
    clock: () => NOW,
  });
  const invoices = new InvoiceChecks({ db, audit, source: vee, timezone: spec.timezone, supplyPoints: [] });
  const app = await buildApi({
    auth: users,
    routes: [
      ...veeRoutes(vee),
      ...(withBilling
        ? billingRoutes({
            billRuns,
            invoices,
            accounts: () => loadBillingAccounts(join(campus.dataDir, 'billing-accounts.yaml')),
            tariffs,
            timezone: spec.timezone,
            clock: () => NOW,
          })
        : []),
    ],
  });
  const call: Call = async (who, method, url, payload) =>
    app.inject({
      method,
      url,
      ...(payload ? { payload } : {}),
      headers: { authorization: `Bearer ${tokens.get(who)}` },
    });
  return {
    app,
    call,
    billRuns,
    close: async () => {
      await app.close();
      db.close();
    },
  };
}
type Call = (
  who: Who,
  method: 'GET' | 'POST',
  url: string,
  payload?: object,
) => Promise<LightMyRequestResponse>;

/** The corrections staff record after October is billed, over HTTP as the web app sends them. */
async function recordCorrections(call: Call): Promise<void> {
  for (const e of spec.events.filter((x) => x.type === 'edit')) {
    const r = await call('chen.supervisor', 'POST', '/api/vee/edits', {
      meter: e.meter,
      quantity: spec.meters[e.meter]!.kind === 'water' ? 'volume_m3' : 'energy_import_kwh',
      start: at(e.start!),
      value: Number(e.value),
      reason: e.reason,
      note: e.note,
    });
    expect(r.statusCode, r.body).toBe(201);
  }
  for (const e of spec.events.filter((x) => x.type === 'exchange')) {
    const recorded = await call('wu.clerk', 'POST', '/api/vee/exchanges', {
      meter: e.meter,
      kind: 'exchange',
      at: at(e.at!),
      registerBefore: Number(e.registerBefore),
      registerAfter: Number(e.registerAfter),
      newSerial: e.newSerial,
      note: 'fitter replaced the meter; registers read at removal and installation',
    });
    expect(recorded.statusCode, recorded.body).toBe(201);
    const id = (recorded.json() as { id: number }).id;
    // The clerk who recorded it cannot also approve it; a supervisor does.
    expect(
      (await call('wu.clerk', 'POST', `/api/vee/exchanges/${id}/decision`, { approve: true })).statusCode,
    ).toBe(403);
    const approved = await call('chen.supervisor', 'POST', `/api/vee/exchanges/${id}/decision`, {
      approve: true,
    });
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json()).toMatchObject({
      status: 'approved',
      requestedBy: 'wu.clerk',
      decidedBy: 'chen.supervisor',
    });
  }
}

describe('the golden quarter, computed by hand, billed by the CLI and the API', () => {
  let dir: string;
  let config: string;
  let campus: LoadedCampus;
  let store: ReadingStore;
  let broker: EmbeddedBroker;
  let ingest: RunningIngest;
  const all = readings();
  /** The CLI's back office (its database file, where the CLI records runs) and the API's. */
  let cliOffice: Awaited<ReturnType<typeof backoffice>>;
  let apiOffice: Awaited<ReturnType<typeof backoffice>>;
  const cliRuns = new Map<string, BillRun>();
  const apiRuns = new Map<string, BillRun>();

  /** Publishes readings over MQTT as the gateways do and waits until ingest has stored them all. */
  async function publish(list: readonly StoredReading[]): Promise<void> {
    const publisher = await mqtt.connectAsync(broker.url, {
      protocolVersion: 4,
      clientId: `golden-publisher-${list.length}`,
    });
    try {
      for (let i = 0; i < list.length; i += 500) {
        await Promise.all(
          list
            .slice(i, i + 500)
            .map(({ site, gateway, kind: _kind, ...r }) =>
              publisher.publishAsync(readingTopic(site, gateway, r.meter), JSON.stringify(r), { qos: 1 }),
            ),
        );
      }
    } finally {
      await publisher.endAsync();
    }
    // Stored by now: every reading published on time, and these.
    const published = new Set([...all.onTime, ...list]);
    const last = Math.max(...[...published].map((r) => r.ts));
    for (const meter of new Set(list.map((r) => r.meter))) {
      const want = [...published].filter((r) => r.meter === meter).length;
      for (let tries = 0; ; tries++) {
        const got = (
          await store.series({
            meters: [meter],
            quantity: spec.meters[meter]!.kind === 'water' ? 'volume_m3' : 'energy_import_kwh',
            from: 0,
            to: last + 1,
          })
        ).length;
        if (got === want) break;
        if (tries > 600) throw new Error(`${meter}: ${got} of ${want} readings stored`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** `campus-energy billing export` as billing staff run it; returns exit code, stdout and stderr. */
  async function cli(period: string): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    let code = 0;
    const program = new Command('campus-energy').exitOverride();
    registerBillingCommands(program, {
      io: { out: (t) => out.push(t), err: (l) => err.push(l), exitCode: (c) => (code = c) },
      clock: () => NOW,
      openValidatedSource: async (c, { db, audit }) =>
        campusVee({ campus: c, store, db, audit, clock: () => NOW }),
    });
    await program.parseAsync([
      'node',
      'campus-energy',
      'billing',
      'export',
      '--config',
      config,
      '--period',
      period,
      '--format',
      'json',
      '--tariffs',
      join(dir, 'tariffs.json'),
    ]);
    return { code, out: out.join(''), err: err.join('\n') };
  }

  async function billBoth(month: Expected['months'][number]): Promise<void> {
    const r = await cli(month.period);
    expect(r.err).not.toContain('error');
    expect(r.code).toBe(0);
    const byCli = JSON.parse(r.out) as BillRun;
    compare(byCli, month);
    cliRuns.set(month.period, byCli);

    const made = await apiOffice.call('zhang.billing', 'POST', '/api/billing/runs', { period: month.period });
    expect(made.statusCode, made.body).toBe(201);
    const { id } = made.json() as { id: string };
    const got = await apiOffice.call('zhang.billing', 'GET', `/api/billing/runs/${id}`);
    const byApi = JSON.parse(got.body) as BillRun;
    compare(byApi, month);
    apiRuns.set(month.period, byApi);
  }

  const month = (label: string) => expected.months.find((m) => m.period === label)!;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'golden-quarter-'));
    config = campusFile(dir);
    campus = loadCampus(config);
    // As a user would: the readings are published over MQTT and `campus-energy ingest` stores them.
    broker = await startEmbeddedBroker();
    ingest = await runIngest(
      campus,
      { url: broker.url },
      { logger: testLogger(), shareGroup: null, protocolVersion: 4 },
    );
    await ingest.ingest.ready;
    store = ingest.store;
    await publish(all.onTime);
    cliOffice = await backoffice(campus, store, openBackofficeDb(backofficePath(campus)), false);
    apiOffice = await backoffice(campus, store, openBackofficeDb(':memory:'), true);
  }, 240_000);
  afterAll(async () => {
    await cliOffice?.close();
    await apiOffice?.close();
    await ingest?.stop();
    await broker?.close();
  });

  it('October: the CLI and the API bill each line to the fen', async () => {
    await billBoth(month('2026-10'));
  }, 120_000);

  it('after October is billed: late readings arrive, a supervisor edits, an exchange is recorded by two people', async () => {
    expect(all.late.length).toBeGreaterThan(0);
    await publish(all.late);
    await recordCorrections(cliOffice.call);
    await recordCorrections(apiOffice.call);
  }, 120_000);

  it('October is closed: the API refuses to bill it again, the CLI exports the recorded run and refuses an overlapping period', async () => {
    const again = await apiOffice.call('zhang.billing', 'POST', '/api/billing/runs', { period: '2026-10' });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'PERIOD_CLOSED' });
    expect(apiOffice.billRuns.list('2026-10')).toHaveLength(1);

    const recorded = await cli('2026-10');
    expect(recorded.code).toBe(0);
    expect(recorded.err).toContain('exported as recorded, not re-billed');
    const october = cliRuns.get('2026-10')!;
    const exported = JSON.parse(recorded.out) as BillRun;
    expect({ id: exported.id, digest: exported.digest, totalFen: exported.totalFen }).toEqual({
      id: october.id,
      digest: october.digest,
      totalFen: october.totalFen,
    });

    const overlapping = await cli('2026-10-20..2026-11-05');
    expect(overlapping.code).toBe(1);
    expect(overlapping.err).toContain(`billed in ${october.id}`);
  }, 120_000);

  it('November: the exchange billed through, and October’s corrections as adjustment lines', async () => {
    await billBoth(month('2026-11'));
  }, 120_000);

  it('December: the corrections billed once, not again', async () => {
    await billBoth(month('2026-12'));
  }, 120_000);

  it('the API’s exports and disclosure print integers with fixed decimals and say what happened', async () => {
    const outputs: { name: string; text: string }[] = [];
    const get = async (url: string) => {
      const r = await apiOffice.call('zhang.billing', 'GET', url);
      expect(r.statusCode, url).toBe(200);
      return r.body;
    };
    for (const m of expected.months) {
      const id = apiRuns.get(m.period)!.id;
      for (const list of ['all', 'payroll', 'notices']) {
        const csv = await get(`/api/billing/runs/${id}/export?format=csv&list=${list}`);
        outputs.push({ name: `${m.period} ${list}.csv`, text: csv });
      }
    }
    for (const lang of ['zh', 'en']) {
      for (const format of ['csv', 'html']) {
        const text = await get(`/api/billing/disclosure?quarter=2026-Q4&format=${format}&lang=${lang}`);
        outputs.push({ name: `disclosure.${lang}.${format}`, text });
      }
    }
    // Every figure printed from integers: no fraction longer than a register's three places,
    // except the tariff prices billed (up to five places, as the table writes them).
    const table = JSON.parse(readFileSync(join(DIR, 'tariffs.json'), 'utf8')) as {
      tariffs: { components: { price?: string; tiers?: { price: string }[] }[] }[];
    };
    const prices = new Set(
      table.tariffs.flatMap((t) =>
        t.components.flatMap((c) => [c.price, ...(c.tiers ?? []).map((x) => x.price)]),
      ),
    );
    for (const o of outputs) {
      const long = [...o.text.matchAll(/(?<![\d.])\d+\.\d{4,}(?![\d.])/g)]
        .map((m) => m[0])
        .filter((n) => !prices.has(n));
      expect(long, o.name).toEqual([]);
    }
    const en = outputs.find((o) => o.name === 'disclosure.en.csv')!.text.split('\n');
    const row = (meter: string, month: string) => en.find((l) => l.includes(`,${month},${meter},`))!;
    expect(row('W-H-1', '2026-12')).toContain('register wrapped past its maximum');
    expect(row('E-B-1', '2026-11')).toContain('register wrapped past its maximum');
    expect(row('E-H-1', '2026-10')).toContain('bad reading left out');
    // 23:15–00:45 estimated across the price change: 0.364 of 121.650 kWh.
    expect(row('E-S-1', '2026-11')).toContain(',121.650,0.30 %,');
    expect(row('W-H-1', '2026-12')).toMatch(
      /Water ¥[\d.]+; Water-resource fee ¥[\d.]+; Sewage-treatment fee ¥[\d.]+/,
    );
    expect(row('E-B-1', '2026-10')).toMatch(/Energy ¥[\d.]+; Campus network fee ¥[\d.]+/);
    expect(row('E-S-1', '2026-11')).toContain(
      'Energy 0.588 (yuan/kWh, from 2024-01-01) | Electricity: Energy 0.61',
    );
    // October's corrections, billed in November, say which period they correct and why.
    const adjustment = (meter: string) =>
      en.find((l) => l.includes(`,2026-11,${meter},`) && l.includes('adjustment of 2026-10'));
    expect(adjustment('W-S-1')).toContain('actual reading replaces estimate');
    expect(adjustment('E-H-1')).toContain('edited by chen.supervisor (METER_FAULT)');
    const novemberCsv = outputs.find((o) => o.name === '2026-11 all.csv')!.text;
    expect(novemberCsv).toContain(`adjustment of 2026-10 (${apiRuns.get('2026-10')!.id})`);
    const zh = outputs.find((o) => o.name === 'disclosure.zh.html')!.text;
    expect(zh).toContain('表码超过最大值归零（翻转）');
    expect(zh).toContain('污水处理费 ¥');
  }, 120_000);
});
