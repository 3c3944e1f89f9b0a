import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { campusTree } from '../../services/metering/live/tree.ts';
import { local } from '../billing/support.ts';
import { startDesk, type Desk } from './desk-harness.ts';

/**
 * Long lists (issue 15 item 4) on a campus of 5,000 meters: the demo campus plus 25 dorm lines of
 * 200 rooms each in a building "Dorm Z" (meters E-Z-0001 … E-Z-5000, room names "Room Z-0001" …).
 * The meter list pages on the server: never more than 200 rows on screen, search by meter id and
 * by room, paging to the last meter; empty and no-match states that say what to do.
 */

const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
const EXTRA = 5_000;
const pad = (n: number) => String(n).padStart(4, '0');
let desk: Desk;
let total = 0;
let lastId = '';

beforeAll(async () => {
  desk = await startDesk({
    name: 'list-meters',
    now: local(2026, 12, 3, 9),
    staff: [['op.sun', 'operator']],
    edit: (raw) => {
      const site = raw.sites[0]!;
      const gw = site.gateways![0]!;
      const buses = gw.buses!;
      const template = buses.find((b) => b.id.includes('line'))!;
      const room = template.meters![0]!;
      for (let line = 0; line < EXTRA / 200; line++) {
        const meters = Array.from({ length: 200 }, (_, r) => {
          const n = pad(line * 200 + r + 1);
          return { ...room, id: `E-Z-${n}`, name: `Room Z-${n}`, unitId: r + 1, account: `ROOM-Z-${n}` };
        });
        // Nothing polls these lines in this test: only the campus file's tree matters.
        buses.push({ ...template, id: `z-line${line + 1}`, port: 30_000 + line, meters } as typeof template);
      }
    },
  });
  const ids = Object.values(campusTree(desk.bo.campus).nodes)
    .filter((n) => n.kind !== 'group')
    .map((n) => n.id);
  total = ids.length;
  lastId = ids.sort(new Intl.Collator('en', { numeric: true }).compare).at(-1)!;
  mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => desk?.close());

afterEach(() => {
  expect(desk.errors.splice(0)).toEqual([]);
});

const rows = (page: Page) => page.locator('[data-list=meters] tbody tr');
const status = (page: Page) => page.locator('[data-list=meters] .list-status');

describe('long lists: the meter list (issue 15 item 4)', () => {
  it('shows at most 200 of 5,000+ meters, finds one by id and by room, and pages to the last', async () => {
    expect(total).toBeGreaterThan(EXTRA);
    const page = await desk.openAs('op.sun', 'en', '#/meters', 'meters');
    await page.setViewportSize({ width: 1366, height: 768 });
    await rows(page).first().waitFor();
    const shown = await rows(page).count();
    expect(shown).toBeGreaterThan(0);
    expect(shown).toBeLessThanOrEqual(200);
    expect(await status(page).textContent()).toBe(`1–${shown} of ${total.toLocaleString('en-GB')}`);
    await page.screenshot({ path: join(SHOTS, 'list-meters-1366-en.png'), fullPage: false });

    // Last page: the rest after whole pages, ending with the last meter in id order (E…, H…, W…).
    await page.click('[data-list=meters] [data-page=last]');
    await page.waitForSelector(`[data-list=meters] tr[data-meter="${lastId}"]`);
    expect(await rows(page).last().getAttribute('data-meter')).toBe(lastId);
    expect(await rows(page).count()).toBe(total - Math.floor((total - 1) / shown) * shown);
    expect(await page.locator('[data-list=meters] [data-page=next]').isDisabled()).toBe(true);
    // The search keeps paging: the rooms of Dorm Z, last page, last room.
    await page.fill('input[name=meters-search]', 'room z-');
    await page.waitForSelector('[data-list=meters] tr[data-meter="E-Z-0001"]');
    await page.click('[data-list=meters] [data-page=last]');
    await page.waitForSelector('[data-list=meters] tr[data-meter="E-Z-5000"]');
    expect(await status(page).textContent()).toBe('4,901–5,000 of 5,000');

    // By id: exactly one.
    await page.fill('input[name=meters-search]', 'E-Z-4321');
    await page.waitForSelector('[data-list=meters] tr[data-meter="E-Z-4321"]');
    await expect.poll(() => rows(page).count()).toBe(1);
    // By room name, in other case and word order: "z-0777 room".
    await page.fill('input[name=meters-search]', 'z-0777 room');
    await page.waitForSelector('[data-list=meters] tr[data-meter="E-Z-0777"]');
    await expect.poll(() => rows(page).count()).toBe(1);
    // By account.
    await page.fill('input[name=meters-search]', 'ROOM-Z-2500');
    await page.waitForSelector('[data-list=meters] tr[data-meter="E-Z-2500"]');
    // Nothing: say what to do.
    await page.fill('input[name=meters-search]', 'no such meter');
    await page.waitForSelector('[data-list=meters] .note');
    expect(await page.locator('[data-list=meters] .note').textContent()).toBe(
      'Nothing matches "no such meter": try fewer or other words.',
    );
    await page.context().close();
  });

  it('the server never sends more than 200 rows, and refuses a bigger page, naming it', async () => {
    const page = await desk.openAs('op.sun', 'zh', '#/meters', 'meters');
    const url = `${desk.bo.url!}/api/meters`;
    const all = await (await page.request.get(`${url}?q=room%20z-&offset=4900&limit=200`)).json();
    expect(all.total).toBe(EXTRA);
    expect(all.items).toHaveLength(100);
    expect(all.items.at(-1).id).toBe('E-Z-5000');
    const big = await page.request.get(`${url}?limit=5000`);
    expect(big.status()).toBe(400);
    expect((await big.json()).message).toContain('limit');
    await page.context().close();
  });

  it('fits a phone in both languages (screenshots looked at)', async () => {
    for (const lang of ['zh', 'en'] as const) {
      const page = await desk.openAs('op.sun', lang, '#/meters', 'meters');
      await page.setViewportSize({ width: 390, height: 844 });
      await rows(page).first().waitFor();
      await page.screenshot({ path: join(SHOTS, `list-meters-390-${lang}.png`) });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await page.context().close();
    }
  });
});
