import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { validateCampus } from '../../config/campus.ts';
import { startBackoffice, type RunningBackoffice } from '../../services/backoffice/run.ts';
import { webRoutes } from '../../services/backoffice/web/routes.ts';
import type { Finding } from '../../services/inspection/detection/types.ts';
import { startLiveHub, type LiveHub } from '../../services/metering/live/hub.ts';
import { liveRoutes } from '../../services/metering/live/routes.ts';
import { detect } from '../../services/inspection/detection/engine.ts';
import { mulberry32 } from '../../simulators/meters/random.ts';
import { syntheticFeeder } from '../detection/synthetic-feeder.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { testLogger } from '../helpers/logger.ts';
import { registers } from './register-readings.ts';
import { smallCampus, smallMeter, SMALL_METERS } from './small-campus.ts';
import { signIn } from '../helpers/sign-in.ts';

/**
 * An alert's detail page in headless Chromium, one alert of each kind as the detectors write them
 * (figures and series copied from their shape in services/inspection/detection/*): every evidence
 * value under words an inspector uses, in English and Chinese, a chart of the right kind, and no
 * internal field name anywhere on the page.
 *
 * The balance chart is recomputed by the page from the stored readings and the band's
 * coefficients: node E-B1 16 kWh an hour, its rooms 6 + 8 = 14 kWh, band 0.5 + 0.05 × 16 = 1.3 kWh
 * an hour → 0.7 kWh an hour not accounted for, 7 kWh over the alert's 10 hours.
 */

const PASSWORD = 'correct horse battery staple';
const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
const HOUR = 3_600_000;
/** 2026-12-02 00:00 in Shanghai. */
const T0 = Date.UTC(2026, 11, 1, 16, 0);
const NOW = T0 + 12 * HOUR;

/** Every key a detector writes, and the series names: none may reach the screen. */
const INTERNAL = [
  'unexplained',
  'uncomputableSlots',
  'bandC0',
  'bandC1',
  'bandC2',
  'bandSigma',
  'bandLearned',
  'resolution',
  'deltaPKw',
  'deltaSKva',
  'incrementalPf',
  'stepAt',
  'lastStepAt',
  'longestRunHours',
  'meanFlowM3h',
  'meanDeltaK',
  'maxDayKwh',
  'maxDayLocal',
  'dhwAllowanceKwh',
  'registeredStoppedFrom',
  'workOrder',
  'confirmedBy',
  'recentSlopeKwhPerK',
  'referenceSlopeKwhPerK',
  'extraShare',
  'extraKwh',
  'recentHddSpreadK',
  'daily_seen',
  'daily_expected_baseline',
  'daily_kwh_vs_hdd',
  'power_kw',
  'flow_m3h',
  'delta_t_k',
  'driftAtEnd',
  'tClusteredByDay',
  'rampOverStep',
  'energyNotRegistered',
  'atNodeMeter',
  'daily_relative_error_seen_by_node',
  'daily_relative_error_fitted_ramp',
  'daily_unexplained_share',
  'meter-drift',
  'energy-balance',
  'illegal-load',
  'unauthorized-heating',
  'meter-stopped',
  'floors only',
  'slots',
];

function rawCampus(dir: string) {
  return smallCampus(dir, [...SMALL_METERS, smallMeter('H-U1', 4)]);
}

const daily = (values: number[]): [number, number][] =>
  values.map((v, i) => [T0 - (values.length - 1 - i) * 24 * HOUR, v]);

/**
 * A meter-drift alert as the detector writes it, not copied by hand: a synthetic feeder of eight
 * buildings whose B3 reads low by an error growing to 2 % over its last 60 days (as in
 * test/detection/child-drift.test.ts), renamed onto this campus (B3 → E-R1, feeder F → E-B1).
 */
function driftFinding(): Finding {
  const days = 200;
  const onset = (days - 60) * 24;
  const noise = mulberry32(101);
  const edit: Record<string, (x: number, h: number) => number> = {};
  for (let b = 1; b <= 8; b++)
    edit[`B${b}`] = (x, h) =>
      (b === 3 && h >= onset ? x * (1 - (0.02 * (h - onset)) / (days * 24 - onset)) : x) *
      (1 + 0.017 * (2 * noise() - 1));
  const found = detect(syntheticFeeder({ seed: 1, days, buildings: 8, edit }).input).findings;
  const f = found.find((x) => x.type === 'meter-drift' && x.meter === 'B3');
  if (!f) throw new Error(`the detector raised no meter drift for B3: ${found.map((x) => x.key).join(', ')}`);
  const rename = (id: string) => (id === 'B3' ? 'E-R1' : id === 'F' ? 'E-B1' : id);
  return {
    ...f,
    key: 'meter-drift:E-R1',
    meter: 'E-R1',
    node: 'E-B1',
    reason: f.reason.replace(/\bB3\b/g, 'E-R1').replace(/\bF\b/g, 'E-B1'),
    evidence: {
      ...f.evidence,
      model: f.evidence.model?.replace(/\bB3\b/g, 'E-R1').replace(/\bF\b/g, 'E-B1'),
      figures: {
        ...f.evidence.figures,
        alike: String(f.evidence.figures.alike ?? '').replace(/\bF\b/g, 'E-B1'),
      },
      series: f.evidence.series?.map((x) => ({ ...x, meter: rename(x.meter) })),
    },
  };
}

const FINDINGS: Finding[] = [
  driftFinding(),
  {
    type: 'energy-balance',
    key: 'energy-balance:E-B1:1',
    severity: 'high',
    node: 'E-B1',
    score: 1,
    since: T0,
    reason: 'unexplained loss at E-B1: 7.00 kWh (4.4 % of throughput) above the technical-loss band',
    evidence: {
      from: T0,
      to: T0 + 10 * HOUR,
      unit: 'kWh',
      model:
        'Σ the meters below E-B1 + technical-loss band (c0 + c1·load + c2·load², learned from its history)',
      expected: 153,
      seen: 160,
      figures: {
        unexplained: 7,
        share: 0.0438,
        slots: 10,
        uncomputableSlots: 0,
        bandC0: 0.5,
        bandC1: 0.05,
        bandC2: 0,
        bandSigma: 0.1,
        bandLearned: 'floors only',
        resolution: 'slot',
      },
    },
    unexplained: 7,
  },
  {
    type: 'illegal-load',
    key: 'illegal-load:E-R1',
    severity: 'high',
    meter: 'E-R1',
    score: 1,
    since: T0 + 2 * HOUR,
    reason: 'resistive load of 1.79 kW (incremental PF 0.998, 7 of 7 samples), 2 times in the window',
    evidence: {
      from: T0,
      to: T0 + 4 * HOUR,
      figures: {
        deltaPKw: 1.793,
        deltaSKva: 1.798,
        incrementalPf: 0.998,
        window: '7 of 7 samples',
        stepAt: new Date(T0 + 2 * HOUR).toISOString(),
        steps: 2,
        lastStepAt: new Date(T0 + 3 * HOUR).toISOString(),
      },
      series: [
        {
          meter: 'E-R1',
          quantity: 'power_kw',
          points: [0, 1, 2, 3].map((i) => [T0 + i * HOUR, i >= 2 ? 1.9 : 0.1]),
        },
        { meter: 'E-R1', quantity: 'pf', points: [0, 1, 2, 3].map((i) => [T0 + i * HOUR, 0.95]) },
      ],
    },
  },
  {
    type: 'unauthorized-heating',
    key: 'unauthorized-heating:H-U1',
    severity: 'high',
    meter: 'H-U1',
    score: 1,
    since: T0,
    reason: 'heating used while registered stopped',
    evidence: {
      from: T0,
      to: T0 + 6 * HOUR,
      figures: {
        longestRunHours: 48,
        meanFlowM3h: 0.359,
        meanDeltaK: 12.78,
        maxDayKwh: 137.78,
        maxDayLocal: '2026-12-01',
        dhwAllowanceKwh: 10,
        registeredStoppedFrom: '2026-10-31T16:00:00.000Z',
        workOrder: 'WO-H-U1',
        confirmedBy: 'Sun Qiang; Ma Lin',
      },
      series: [
        { meter: 'H-U1', quantity: 'flow_m3h', points: [0, 1, 2].map((i) => [T0 + i * HOUR, 0.36]) },
        { meter: 'H-U1', quantity: 'delta_t_k', points: [0, 1, 2].map((i) => [T0 + i * HOUR, 12.8]) },
      ],
    },
  },
  {
    type: 'unauthorized-heating',
    key: 'unauthorized-heating:electric:E-R2',
    severity: 'medium',
    meter: 'E-R2',
    score: 0.8,
    since: T0 - 5 * 24 * HOUR,
    reason: 'electric heating',
    evidence: {
      from: T0 - 5 * 24 * HOUR,
      to: T0,
      model: 'daily kWh = a + b·HDD + c·weekend, own history and last year, peer-adjusted',
      unit: 'kWh',
      expected: 40,
      seen: 62,
      figures: {
        model: 'daily kWh = a + b·HDD + c·weekend, own history and last year, peer-adjusted',
        recentSlopeKwhPerK: 1.9,
        referenceSlopeKwhPerK: 0.3,
        reference: 'peers',
        z: 4.1,
        extraShare: 0.35,
        extraKwh: 22,
        recentHddSpreadK: 6.5,
      },
      series: [
        {
          meter: 'E-R2',
          quantity: 'daily_kwh_vs_hdd',
          points: [
            [2, 8],
            [5, 13],
            [8, 19],
            [11, 25],
          ],
        },
      ],
    },
  },
  {
    type: 'meter-stopped',
    key: 'meter-stopped:E-R2',
    severity: 'high',
    meter: 'E-R2',
    score: 0.9,
    since: T0 - 2 * 24 * HOUR,
    reason: 'E-R2 registered nothing for 23 slots',
    evidence: {
      from: T0 - 2 * 24 * HOUR,
      to: T0,
      unit: 'kWh',
      model:
        "the meter's own baseline profile (weekday/weekend × hour of day, the 28 days before the window)",
      expected: 20,
      seen: 0,
      figures: { slots: 23 },
      series: [
        { meter: 'E-R2', quantity: 'daily_seen', points: daily([10, 10, 0, 0]) },
        { meter: 'E-R2', quantity: 'daily_expected_baseline', points: daily([10, 10, 10, 10]) },
      ],
    },
  },
];

describe('alert detail page', () => {
  let dir: string;
  let broker: EmbeddedBroker;
  let store: SqliteStore;
  let hub: LiveHub;
  let bo: RunningBackoffice;
  let browser: Browser;
  const errors: string[] = [];
  const ids: Record<string, number> = {};

  async function open(
    key: string,
    lang: 'en' | 'zh',
    viewport = { width: 1366, height: 768 },
  ): Promise<Page> {
    const context = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC', viewport });
    const page = await context.newPage();
    page.on('pageerror', (err) => errors.push(err.message));
    await signIn(page, bo.url!, 'insp.chen', PASSWORD);
    await page.locator(`button[data-lang=${lang}]`).click();
    await page.goto(`${bo.url!}/#/alerts/${ids[key]}`);
    await page.waitForSelector('[data-section=chart][data-ready=yes]');
    return page;
  }

  /** The visible text of the page, and every internal name found in it. */
  async function internalNames(page: Page): Promise<string[]> {
    const text = await page.locator('main').innerText();
    return INTERNAL.filter((name) =>
      new RegExp(`(^|[^\\w-])${name.replace(/[-]/g, '\\-')}($|[^\\w-])`).test(text),
    );
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'alert-detail-'));
    broker = await startEmbeddedBroker();
    store = SqliteStore.open({ path: ':memory:' });
    const from = T0 - 24 * HOUR;
    const to = T0 + 11 * HOUR;
    await store.writeReadings([
      ...registers('E-B1', 'electricity', from, to, () => 4, 1),
      ...registers('E-R1', 'electricity', from, to, () => 1.5, 1),
      ...registers('E-R2', 'electricity', from, to, () => 2, 1),
    ]);
    const campus = validateCampus(rawCampus(dir), { file: join(dir, 'campus.yaml'), dir });
    const clock = () => NOW;
    hub = await startLiveHub({ campus, mqtt: { url: broker.url }, store, logger: testLogger(), clock });
    bo = await startBackoffice({
      campus,
      mqtt: { url: broker.url },
      store,
      clock,
      logger: testLogger(),
      http: { host: '127.0.0.1', port: 0, secureCookie: false },
      bootstrapAdmin: { username: 'admin.zhou', password: PASSWORD },
      scryptCost: 1024,
      detection: false,
      extraRoutes: (s) => [
        webRoutes({ timezone: s.timezone }),
        ...liveRoutes({ hub, campus: s.campus, store: s.store, vee: s.vee, clock }),
      ],
    });
    await bo.users.provisionUser({
      username: 'insp.chen',
      displayName: 'Chen (inspector)',
      roles: ['inspector'],
      password: PASSWORD,
    });
    const { opened } = bo.alerts.sync(FINDINGS, NOW);
    for (const a of opened) ids[a.key] = a.id;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await bo?.stop();
    await hub?.stop();
    await store?.close();
    await broker?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(errors.splice(0)).toEqual([]);
  });

  it('a balance alert: the node against its meters with the band, the unaccounted energy recomputed, every figure labelled', async () => {
    // The server says what was found as a code and parameters; the page words it.
    expect(bo.alerts.get(ids['energy-balance:E-B1:1']!).message).toEqual({
      code: 'alert.energy-balance',
      params: { where: 'E-B1', unit: 'kWh', unexplained: 7, share: 0.0438 },
    });
    expect(bo.alerts.get(ids['unauthorized-heating:electric:E-R2']!).message).toEqual({
      code: 'alert.unauthorized-heating.electric',
      params: { where: 'E-R2', unit: 'kWh', extraKwh: 22 },
    });
    const page = await open('energy-balance:E-B1:1', 'en');
    expect(await page.locator('[data-section=chart] canvas').count()).toBeGreaterThan(0);
    // 0.7 kWh an hour over the alert's 10 hours, from the stored readings and the band.
    expect(await page.locator('[data-recomputed]').getAttribute('data-recomputed')).toBe('7');
    expect(await page.locator('[data-found]').textContent()).toBe(
      'E-B1: 7 kWh not accounted for (4.4 % of the energy through it), above its technical-loss band.',
    );
    const figures = await page.locator('[data-evidence=figures]').innerText();
    expect(figures).toContain('Energy not accounted for\n7 kWh');
    expect(figures).toContain('Technical loss: fixed part\n0.5 kWh/h');
    expect(figures).toContain('Technical loss: part proportional to the load\n5 %');
    expect(figures).toContain('Technical-loss band from\nminimum allowances only (nothing learned yet)');
    expect(figures).toContain('Duration\n10 h');
    expect(await internalNames(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'alert-balance-1366-en.png'), fullPage: true });
    await page.context().close();

    const zh = await open('energy-balance:E-B1:1', 'zh', { width: 390, height: 844 });
    const zhFigures = await zh.locator('[data-evidence=figures]').innerText();
    expect(zhFigures).toContain('无法解释的电量\n7 kWh');
    expect(zhFigures).toContain('技术损耗：固定部分\n0.5 kWh/h');
    expect(await internalNames(zh)).toEqual([]);
    expect(
      await zh.evaluate(() => document.documentElement.scrollWidth - window.innerWidth),
    ).toBeLessThanOrEqual(0);
    await zh.screenshot({ path: join(SHOTS, 'alert-balance-390-zh.png'), fullPage: true });
    // A refused step says what to do in the reader's language, from the server's code.
    await zh.locator('form[data-action=assign] input[name=inspector]').fill('no such person');
    await zh.locator('form[data-action=assign] button[type=submit]').click();
    expect(await zh.locator('form[data-action=assign] .note-error').textContent()).toBe(
      '请在备注中写明现场核查发现的情况（最多 2000 字），并按用户名指派稽查员。',
    );
    expect(bo.alerts.get(ids['energy-balance:E-B1:1']!).state).toBe('open');
    await zh.context().close();
  });

  it('per-meter, illegal-load and heating alerts: their own charts, every figure in words with units, in both languages', async () => {
    const cases: [string, string, string[]][] = [
      [
        'meter-stopped:E-R2',
        'canvas',
        ['Compared with\nthe meter’s own usual pattern', 'Expected\n20 kWh', 'Metered\n0 kWh'],
      ],
      [
        'illegal-load:E-R1',
        'canvas',
        [
          'Load switched on (real power)\n1.79 kW',
          'Power factor of that load (1 = a heater)\n0.998',
          'Seen in\n7 of 7 readings',
        ],
      ],
      [
        'unauthorized-heating:H-U1',
        'canvas',
        [
          'Average flow\n0.359 m³/h',
          'Registered as stopped since\n2026-11-01 00:00:00',
          'Stop work order\nWO-H-U1',
        ],
      ],
      [
        'meter-drift:E-R1',
        'canvas',
        [
          'Compared with\nthe node’s hourly loss against this meter’s load times a slowly growing error',
          'The meter’s error at the end (negative: reading low)\n-',
          'How clear the growing error is (t statistic, days as clusters)\n',
          'How much better a growing error fits than a sudden step\n',
          'Energy the meter did not register since (negative: registered in excess)\n',
          'The drifting meter is the node’s own meter\nno, a meter below it',
        ],
      ],
      [
        'unauthorized-heating:electric:E-R2',
        'svg',
        [
          'Energy per degree of cold, recently\n1.9 kWh/K',
          'Extra energy\n22 kWh',
          'How unusual (standard deviations)\n4.1',
        ],
      ],
    ];
    for (const [key, chart, expected] of cases) {
      const page = await open(key, 'en');
      expect(await page.locator(`[data-section=chart] ${chart}`).count(), key).toBeGreaterThan(0);
      const figures = await page.locator('[data-evidence=figures]').innerText();
      for (const e of expected) expect(figures, key).toContain(e);
      expect(await internalNames(page), key).toEqual([]);
      await page.screenshot({
        path: join(SHOTS, `alert-${key.replace(/[:]/g, '-')}-1366-en.png`),
        fullPage: true,
      });
      await page.context().close();
      const zh = await open(key, 'zh', { width: 390, height: 844 });
      expect(await internalNames(zh), key).toEqual([]);
      // In Chinese the labels are Chinese: no English word of three letters or more but units and ids.
      const labels = await zh.locator('[data-evidence=figures] dt').allInnerTexts();
      for (const l of labels) expect(l, `${key}: ${l}`).not.toMatch(/[A-Za-z]{3,}/);
      expect(
        await zh.evaluate(() => document.documentElement.scrollWidth - window.innerWidth),
      ).toBeLessThanOrEqual(0);
      await zh.screenshot({
        path: join(SHOTS, `alert-${key.replace(/[:]/g, '-')}-390-zh.png`),
        fullPage: true,
      });
      await zh.context().close();
    }
    // Detection closes an alert whose condition ended: its note is in words too.
    bo.alerts.sync(
      FINDINGS.filter((f) => f.key !== 'meter-stopped:E-R2'),
      NOW + HOUR,
    );
    const closed = await open('meter-stopped:E-R2', 'zh');
    expect(await closed.locator('[data-section=steps]').innerText()).toContain('检测不再发现该情况');
    expect(await internalNames(closed)).toEqual([]);
    await closed.context().close();
  });
});
