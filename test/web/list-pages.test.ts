import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../services/inspection/detection/types.ts';
import { local } from '../billing/support.ts';
import { startDesk, type Desk } from './desk-harness.ts';

/**
 * The shared list (list.js) on the alerts, readings and customers pages (issue 15 item 4): 450
 * open alerts are paged 100 at a time, searched by meter, paged to the oldest; a page with
 * nothing to show says what to do and when something will appear.
 */

const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
const N = 450;
const pad = (n: number) => String(n).padStart(4, '0');
let desk: Desk;

beforeAll(async () => {
  desk = await startDesk({
    name: 'list-pages',
    now: local(2026, 12, 3, 9),
    staff: [
      ['insp.qian', 'inspector'],
      ['sup.zhou', 'supervisor'],
      ['clerk.wu', 'clerk'],
    ],
  });
  const findings: Finding[] = Array.from({ length: N }, (_, i) => ({
    type: 'illegal-load',
    key: `illegal-load:E-X-${pad(i + 1)}`,
    severity: 'high',
    meter: `E-X-${pad(i + 1)}`,
    score: 1.5,
    since: local(2026, 12, 2),
    reason: 'resistive load of 1.5 kW',
    evidence: { from: 0, to: 1, figures: { deltaPKw: 1.5, incrementalPf: 0.999 } },
    suspects: [],
  }));
  desk.bo.alerts.sync(findings);
  mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => desk?.close());

afterEach(() => {
  expect(desk.errors.splice(0)).toEqual([]);
});

describe('long lists on the alerts, readings and customers pages (issue 15 item 4)', () => {
  it('pages 450 alerts 100 at a time, finds one by meter, and reaches the oldest', async () => {
    const page = await desk.openAs('insp.qian', 'en', '#/alerts', 'list-alerts');
    const rows = page.locator('[data-list=alerts] tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(100);
    expect(await page.locator('[data-list=alerts] .list-status').textContent()).toBe('1–100 of 450');
    // Newest first: alert #450 (meter E-X-0450) on top.
    expect(await rows.first().getAttribute('data-alert')).toBe('450');
    await page.click('[data-list=alerts] [data-page=last]');
    await page.waitForSelector('[data-list=alerts] tr[data-alert="1"]');
    expect(await rows.count()).toBe(50);
    await page.fill('input[name=alerts-search]', 'e-x-0123');
    await page.waitForSelector('[data-list=alerts] tr[data-alert="123"]');
    await expect.poll(() => rows.count()).toBe(1);
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.screenshot({ path: join(SHOTS, 'list-alerts-1366-en.png') });
    await page.context().close();
  });

  it('says what to do when there is nothing: no alerts of a type, no reading mismatches, no payment mismatches', async () => {
    const alerts = await desk.openAs('sup.zhou', 'en', '#/alerts?type=unauthorized-heating', 'list-alerts');
    await alerts.waitForSelector('[data-list=alerts] .note');
    expect(await alerts.locator('[data-list=alerts] .note').textContent()).toBe(
      'No open alerts: detection runs every 5 minutes and new alerts appear here by themselves.',
    );
    await alerts.context().close();

    const readings = await desk.openAs('sup.zhou', 'zh', '#/readings', 'list-mismatches');
    await readings.waitForSelector('[data-list=mismatches] .note');
    expect(await readings.locator('[data-list=mismatches] .note').textContent()).toBe(
      '没有抄表差异：两名抄表员的读数与自动读数一致时不会产生记录。',
    );
    await readings.context().close();

    const customers = await desk.openAs('clerk.wu', 'en', '#/customers', 'list-mismatches');
    await customers.waitForSelector('[data-list=mismatches] .note');
    expect(await customers.locator('[data-list=mismatches] .note').textContent()).toBe(
      "No open mismatch: reconcile a day's provider statement and any difference appears here.",
    );
    await customers.context().close();
  });

  it('the alerts list fits a phone in both languages (screenshots looked at)', async () => {
    for (const lang of ['zh', 'en'] as const) {
      const page = await desk.openAs('insp.qian', lang, '#/alerts', 'list-alerts');
      await page.setViewportSize({ width: 390, height: 844 });
      await page.locator('[data-list=alerts] tbody tr').first().waitFor();
      await page.screenshot({ path: join(SHOTS, `list-alerts-390-${lang}.png`) });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await page.context().close();
    }
  });
});
