import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { local } from '../billing/support.ts';
import { startDesk, type Desk } from './desk-harness.ts';
import { registers } from './register-readings.ts';

/**
 * The energy report page and its exports in headless Chromium against the whole back office on
 * the demo campus (clock at 3 December 2026). Readings by formula: Dorm E1's main meter uses
 * 0.1 kWh a quarter hour (288 kWh in November), its rooms E1-101 and E1-102 0.025 and 0.05
 * (72 and 144 kWh), both prepaid student rooms at the example tariff's 0.61 yuan/kWh: 43.92 +
 * 87.84 = 131.76 yuan. October has readings from the 16th only; November 2025 has none.
 */

const NOW = local(2026, 12, 3, 9);
const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
const HASH = '#/reports/month/2026-11/building:E-E1-MAIN';
const API = '/api/reports/energy?period=month&date=2026-11&scope=building%3AE-E1-MAIN';
let desk: Desk;

beforeAll(async () => {
  const from = local(2026, 10, 16);
  const to = local(2026, 12, 1, 1);
  const readings = [
    ...registers('E-E1-MAIN', 'electricity', from, to, () => 0.1, 1),
    ...registers('E-E1-101', 'electricity', from, to, () => 0.025, 1),
    ...registers('E-E1-102', 'electricity', from, to, () => 0.05, 1),
  ];
  desk = await startDesk({
    name: 'reports-page',
    now: NOW,
    staff: [
      ['sup.wang', 'supervisor'],
      ['bill.li', 'billing'],
      ['clerk.he', 'clerk'],
    ],
    readings,
  });
  const clerk: Actor = { id: 'clerk.he', kind: 'user', roles: ['clerk'] };
  const sup: Actor = { id: 'sup.wang', kind: 'user', roles: ['supervisor'] };
  for (const room of ['E1-101', 'E1-102']) {
    const id = `ROOM-${room}`;
    desk.bo.prepaid.openAccount(clerk, {
      ...{ id, customerType: 'student-room', holder: `Dorm room ${room}` },
      meters: [`E-${room}`],
    });
    desk.bo.prepaid.verifyTariffType(sup, id);
  }
  mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => desk?.close());

afterEach(() => {
  expect(desk.errors.splice(0)).toEqual([]);
});

async function open(lang: 'zh' | 'en', width: number, height: number, user = 'sup.wang'): Promise<Page> {
  const page = await desk.openAs(user, lang, HASH, 'reports');
  await page.setViewportSize({ width, height });
  await page.waitForSelector('[data-total=electricity]');
  return page;
}

/** The text of every page of a PDF, read with Mozilla's PDF reader (not the HTML it came from). */
async function pdfText(pdf: Buffer): Promise<string[]> {
  const { getDocument } = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const doc = await getDocument({ data: new Uint8Array(pdf), useSystemFonts: false }).promise;
  const pages: string[] = [];
  for (let i = 1; i <= doc.numPages; i++) {
    const content = await (await doc.getPage(i)).getTextContent();
    pages.push(content.items.map((it) => ('str' in it ? it.str : '')).join(' '));
  }
  await doc.destroy();
  return pages;
}

/** Every file of a ZIP archive, read from its central directory, each checked against its CRC-32. */
function unzip(buf: Buffer): Map<string, string> {
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = buf.readUInt16LE(end + 10);
  let p = buf.readUInt32LE(end + 16);
  const out = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    expect(buf.readUInt32LE(p)).toBe(0x02014b50);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extra = buf.readUInt16LE(p + 30) + buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    const dataAt = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(dataAt, dataAt + size);
    const data = method === 8 ? inflateRawSync(raw) : raw;
    expect(crc32(data), name).toBe(crc);
    out.set(name, data.toString('utf8'));
    p += 46 + nameLen + extra;
  }
  return out;
}

/** A sheet's cells by reference: inline strings as text, the others as their <v> and type. */
function cells(sheet: string): Map<string, { type: string; value: string }> {
  const out = new Map<string, { type: string; value: string }>();
  for (const m of sheet.matchAll(/<c r="([A-Z]+\d+)"([^>]*)>(.*?)<\/c>/g)) {
    const type = /t="(\w+)"/.exec(m[2]!)?.[1] ?? 'n';
    const value =
      type === 'inlineStr' ? /<t[^>]*>(.*?)<\/t>/.exec(m[3]!)![1]! : /<v>(.*?)<\/v>/.exec(m[3]!)![1]!;
    out.set(m[1]!, { type, value });
  }
  return out;
}

describe('energy report page (issue 15 item 3)', () => {
  it('shows a building month: consumption, cost at the tariff, no data a year ago, the incomplete previous month', async () => {
    const page = await open('en', 1366, 768);
    const total = page.locator('[data-total=electricity]');
    expect(await total.textContent()).toContain('288 kWh');
    expect(await total.textContent()).toContain('¥131.76');
    const summary = await page.locator('.report-summary').textContent();
    expect(summary).toContain('Same period last year 2025-11');
    expect(summary).toContain('no data');
    // October from the 16th: its figure is partial, which the change shows (not a zero).
    expect(summary).toContain('Previous period 2026-10');
    expect(summary).toContain('153.6 kWh (+87.5 %) · incomplete, 15 intervals missing');
    expect(await page.locator('h1').textContent()).toBe('Energy report · Monthly · Dorm E1 main · 2026-11');
    expect(await page.locator('.report-rows tbody tr').count()).toBe(30);
    expect(await page.locator('.report-rows tbody tr').nth(4).textContent()).toContain('2026-11-05');
    await page.screenshot({ path: join(SHOTS, 'reports-1366-en.png'), fullPage: true });
    await page.context().close();
  });

  it('prints: the PDF has the heading, the rows and the totals, and none of the navigation or controls', async () => {
    const page = await open('en', 1366, 768);
    await page.emulateMedia({ media: 'print' });
    await page.screenshot({ path: join(SHOTS, 'reports-print-en.png'), fullPage: true });
    const pdf = await page.pdf({ format: 'A4', printBackground: true });
    const pages = await pdfText(pdf);
    const text = pages.join('\n');
    expect(text).toContain('Energy report · Monthly · Dorm E1 main · 2026-11');
    expect(text).toContain('Total 2026-11');
    expect(text).toMatch(/288\s*kWh/);
    expect(text).toContain('¥131.76');
    expect(text).toContain('2026-11-30');
    for (const hidden of ['Overview', 'Live', 'Log out', 'Show report', 'Download CSV', 'Print'])
      expect(text, hidden).not.toContain(hidden);
    await page.context().close();
  });

  it('exports CSV with a BOM and Chinese headers, and XLSX with numbers as numbers', async () => {
    const page = await open('zh', 1366, 768, 'bill.li');
    const csv = await page.request.get(`${desk.bo.url!}${API}&format=csv&lang=zh`);
    expect(csv.status()).toBe(200);
    expect(csv.headers()['content-disposition']).toContain('.csv');
    const bytes = await csv.body();
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.subarray(3).toString('utf8').trim().split('\n');
    expect(lines[0]).toBe('能耗报表 · 月报 · Dorm E1 main · 2026-11');
    expect(lines[1]).toBe('类别,单位,时段,用量,缺数区间,费用（元）,较之变化（用量 %）,较之变化（费用 %）');
    expect(lines).toContain('电,kWh,合计,288,0,131.76,,');
    expect(lines).toContain('电,kWh,去年同期 2025-11,无数据,30,,,');
    // 7.2 kWh a day at 0.61: 4.392 yuan, each room's running total rounded once (1.46 + 2.93).
    expect(lines).toContain('电,kWh,2026-11-05,9.6,0,4.39,,');
    expect(lines).toContain('电,kWh,上期 2026-10,153.6,15,70.27,,');

    const res = await page.request.get(`${desk.bo.url!}${API}&format=xlsx&lang=en`);
    expect(res.headers()['content-type']).toBe(
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    );
    const files = unzip(await res.body());
    expect([...files.keys()].sort()).toEqual([
      '[Content_Types].xml',
      '_rels/.rels',
      'xl/_rels/workbook.xml.rels',
      'xl/styles.xml',
      'xl/workbook.xml',
      'xl/worksheets/sheet1.xml',
    ]);
    const c = cells(files.get('xl/worksheets/sheet1.xml')!);
    expect(c.get('A1')!.value).toBe('Energy report · Monthly report · Dorm E1 main · 2026-11');
    expect(c.get('D2')!.value).toBe('Consumption');
    // Row 3 is 1 November; the total follows the 30 days, at row 33.
    expect(c.get('C3')).toEqual({ type: 'inlineStr', value: '2026-11-01' });
    expect(c.get('D3')).toEqual({ type: 'n', value: '9.6' });
    expect(c.get('C33')!.value).toBe('Total');
    expect(c.get('D33')).toEqual({ type: 'n', value: '288' });
    expect(c.get('F33')).toEqual({ type: 'n', value: '131.76' });
    await page.context().close();
  });

  it('refuses a month that does not exist, naming it, and the page says so', async () => {
    const page = await desk.openAs('sup.wang', 'en', '#/reports/month/2026-13/campus', 'reports');
    await page.locator('.note-error').waitFor();
    expect(await page.locator('.note-error').textContent()).toContain('2026-13');
    const res = await page.request.get(`${desk.bo.url!}/api/reports/energy?period=month&date=2026-13`);
    expect(res.status()).toBe(400);
    expect((await res.json()).code).toBe('INVALID_REPORT_PERIOD');
    await page.context().close();
  });

  it('fits a phone in both languages and a desktop in Chinese (screenshots looked at)', async () => {
    for (const [lang, w, hgt] of [
      ['zh', 390, 844],
      ['en', 390, 844],
      ['zh', 1366, 768],
    ] as const) {
      const page = await open(lang, w, hgt);
      await page.screenshot({ path: join(SHOTS, `reports-${w}-${lang}.png`), fullPage: true });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(overflow, `${lang} ${w}`).toBeLessThanOrEqual(w);
      await page.context().close();
    }
  });
});
