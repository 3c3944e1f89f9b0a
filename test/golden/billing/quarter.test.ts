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
import { AuditLog } from '../../../services/platform/audit/audit-log.ts';
import type { Actor } from '../../../services/platform/auth/roles.ts';
import { openBackofficeDb } from '../../../services/platform/db.ts';
import { ServiceError } from '../../../services/platform/errors.ts';
import { buildApi } from '../../../services/platform/http/app.ts';
import { testLogger } from '../../helpers/logger.ts';

/**
 * The golden quarter (issue 23, item 9): quarter/spec.json is the recipe of six meters' readings
 * and four accounts; quarter/compute.py worked out every account-month line by hand from the
 * written rules (no product code) into quarter/expected.json. Here the same readings are published
 * over MQTT to the campus's ingest (an embedded broker on loopback), which stores them, and the
 * quarter is billed month by month through the CLI and through the API: every line must
 * agree to the fen and to the 0.001 unit.
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
    type: 'bad-reading' | 'gap';
    meter: string;
    at?: string;
    deltaMilli?: number;
    after?: string;
    before?: string;
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
interface Expected {
  months: { period: string; lines: ExpectedLine[]; totalFen: number }[];
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

function readings(): StoredReading[] {
  const out: StoredReading[] = [];
  for (const [meter, m] of Object.entries(spec.meters)) {
    const quantity = m.kind === 'water' ? 'volume_m3' : 'energy_import_kwh';
    const events = spec.events.filter((e) => e.meter === meter);
    let seq = 0;
    for (let t = at(spec.readingsFrom); t <= at(spec.readingsTo); t += QUARTER) {
      seq++;
      if (events.some((e) => e.type === 'gap' && t > at(e.after!) && t < at(e.before!))) continue;
      let milli = trueRegister(m, t);
      for (const e of events) if (e.type === 'bad-reading' && at(e.at!) === t) milli += e.deltaMilli!;
      if (m.modulus) milli %= m.modulus;
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
  return out;
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

function compare(run: BillRun, month: Expected['months'][number]) {
  expect(run.blocked).toEqual([]);
  const got = run.lines.map((l: MeterBill) => ({
    account: l.account,
    meter: l.meter,
    opening: l.opening,
    closing: l.closing,
    quantityMilli: l.quantityMilli,
    estimatedMilli: l.estimatedMilli,
    components: l.components,
    totalFen: l.totalFen,
  }));
  const want = month.lines.map((l) => ({
    account: l.account,
    meter: l.meter,
    opening: Number(l.opening),
    closing: Number(l.closing),
    quantityMilli: l.quantityMilli,
    estimatedMilli: l.estimatedMilli,
    components: l.components,
    totalFen: l.totalFen,
  }));
  expect(got, month.period).toEqual(want);
  expect(run.totalFen).toBe(month.totalFen);
  for (const [i, l] of month.lines.entries()) {
    // Closing − opening − use is 0 where the registers compare, and not shown across a wrap.
    expect(run.lines[i]!.registerDifferenceMilli, `${month.period} ${l.meter}`).toBe(
      l.named.includes('rollover') ? null : 0,
    );
    const rules = new Set(run.lines[i]!.flags.map((f) => f.rule));
    for (const rule of l.named)
      expect(rules.has(rule as never), `${month.period} ${l.meter} names ${rule}`).toBe(true);
    // A wrap is named only where one happened: never a fall taken for a wrap, nor a wrap missed.
    expect(rules.has('rollover'), `${month.period} ${l.meter} rollover`).toBe(l.named.includes('rollover'));
  }
}

describe('the golden quarter, computed by hand, billed by the CLI and the API', () => {
  let dir: string;
  let config: string;
  let campus: LoadedCampus;
  let store: ReadingStore;
  let broker: EmbeddedBroker;
  let ingest: RunningIngest;

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
    const all = readings();
    const publisher = await mqtt.connectAsync(broker.url, {
      protocolVersion: 4,
      clientId: 'golden-publisher',
    });
    try {
      for (let i = 0; i < all.length; i += 500) {
        await Promise.all(
          all
            .slice(i, i + 500)
            .map(({ site, gateway, kind: _kind, ...r }) =>
              publisher.publishAsync(readingTopic(site, gateway, r.meter), JSON.stringify(r), { qos: 1 }),
            ),
        );
      }
    } finally {
      await publisher.endAsync();
    }
    store = ingest.store;
    const last = Math.max(...all.map((r) => r.ts));
    for (const meter of Object.keys(spec.meters)) {
      const want = all.filter((r) => r.meter === meter).length;
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
  }, 240_000);
  afterAll(async () => {
    await ingest?.stop();
    await broker?.close();
  });

  it('the CLI bills each month to the fen', async () => {
    for (const month of expected.months) {
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
        month.period,
        '--format',
        'json',
        '--tariffs',
        join(dir, 'tariffs.json'),
      ]);
      expect(err.join('\n')).not.toContain('error');
      expect(code).toBe(0);
      compare(JSON.parse(out.join('')) as BillRun, month);
    }
  }, 300_000);

  it('the API bills each month to the fen; its exports and disclosure print integers with fixed decimals and say what happened', async () => {
    const db = openBackofficeDb(':memory:');
    const audit = new AuditLog(db, () => NOW);
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
    const fin: Actor = { id: 'fin.zhang', kind: 'user', roles: ['billing'] };
    const app = await buildApi({
      auth: {
        authenticate: (token) => {
          if (token !== 'fin') throw new ServiceError('UNAUTHENTICATED', 401, 'unknown token');
          return fin;
        },
      },
      routes: billingRoutes({
        billRuns,
        invoices,
        accounts: () => loadBillingAccounts(join(dir, 'billing-accounts.yaml')),
        tariffs,
        timezone: spec.timezone,
        clock: () => NOW,
      }),
    });
    const outputs: { name: string; text: string }[] = [];
    const get = async (url: string) => {
      const r = await app.inject({ method: 'GET', url, headers: { authorization: 'Bearer fin' } });
      expect(r.statusCode, url).toBe(200);
      return r.body;
    };
    try {
      for (const month of expected.months) {
        const made = await app.inject({
          method: 'POST',
          url: '/api/billing/runs',
          payload: { period: month.period },
          headers: { authorization: 'Bearer fin' },
        });
        expect(made.statusCode).toBe(201);
        const { id } = made.json() as { id: string };
        compare(JSON.parse(await get(`/api/billing/runs/${id}`)) as BillRun, month);
        for (const list of ['all', 'payroll', 'notices']) {
          const csv = await get(`/api/billing/runs/${id}/export?format=csv&list=${list}`);
          outputs.push({ name: `${month.period} ${list}.csv`, text: csv });
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
      const zh = outputs.find((o) => o.name === 'disclosure.zh.html')!.text;
      expect(zh).toContain('表码超过最大值归零（翻转）');
      expect(zh).toContain('污水处理费 ¥');
    } finally {
      await app.close();
      db.close();
    }
  }, 300_000);
});
