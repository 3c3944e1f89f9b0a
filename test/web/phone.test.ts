import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../services/platform/auth/roles.ts';
import { overflow, settled, startWalk, USERS, type Walk } from './phone-walk.ts';

/**
 * Issue 24 item 6, the phone (390×844): every role reaches every page of its navigation through
 * the menu button (each entry visible once the menu is open, clicked, the page drawn), no page is
 * wider than the screen in either language, and a table's rows are cards whose cells say which
 * column they are, with the key column on screen.
 */

const PHONE = { width: 390, height: 844 };
const ROLE_LIST = Object.keys(USERS) as Role[];

describe('the back office on a phone', () => {
  let walk: Walk;

  beforeAll(async () => {
    walk = await startWalk('phone');
  }, 60_000);

  afterAll(async () => {
    await walk?.close();
  });

  async function openByMenu(page: Page, nav: string): Promise<void> {
    const menu = page.locator('button[data-action=menu]');
    await expect(menu.isVisible()).resolves.toBe(true);
    await expect(page.locator('nav.app-nav').isVisible()).resolves.toBe(false);
    await menu.click();
    expect(await menu.getAttribute('aria-expanded')).toBe('true');
    const link = page.locator(`nav.app-nav a[data-nav="${nav}"]`);
    await link.scrollIntoViewIfNeeded();
    const box = await link.boundingBox();
    // Visible and on the screen, not behind the edge of a sideways strip.
    expect(box, `${nav} has no box`).not.toBeNull();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(PHONE.width);
    expect(box!.y + box!.height).toBeLessThanOrEqual(PHONE.height);
    await link.click();
    await page.waitForFunction((id) => window.location.hash === `#/${id}`, nav);
  }

  it('every role reaches every page through the menu, and no page is wider than the phone', async () => {
    const wide: string[] = [];
    const stuck: string[] = [];
    let visits = 0;
    for (const lang of ['zh', 'en'] as const) {
      for (const role of ROLE_LIST) {
        const page = await walk.login(role, lang, PHONE);
        const { navs, extra } = await walk.hashes(page);
        expect(navs.length, `${role} has pages`).toBeGreaterThan(0);
        for (const nav of navs) {
          await openByMenu(page, nav);
          const loading = await settled(page);
          if (loading) stuck.push(`${lang} ${role} ${nav}: ${loading}`);
          // The menu closes once a page is chosen, so it never covers the page it opened.
          expect(await page.locator('nav.app-nav').isVisible()).toBe(false);
          const o = await overflow(page);
          if (o.width > PHONE.width)
            wide.push(`${lang} ${role} ${nav}: ${o.width}px ${o.culprits.join(' | ')}`);
          visits++;
        }
        for (const hash of extra) {
          await page.goto(`${walk.desk.bo.url!}/#/${hash}`);
          const loading = await settled(page);
          if (loading) stuck.push(`${lang} ${role} ${hash}: ${loading}`);
          const o = await overflow(page);
          if (o.width > PHONE.width)
            wide.push(`${lang} ${role} ${hash}: ${o.width}px ${o.culprits.join(' | ')}`);
          visits++;
        }
        await page.context().close();
      }
    }
    for (const w of wide) console.log(`wider than the phone: ${w}`);
    for (const s of stuck) console.log(`still loading: ${s}`);
    console.log(`phone walk: ${visits} page visits`);
    expect(wide).toEqual([]);
    expect(stuck).toEqual([]);
    expect(walk.desk.errors).toEqual([]);
  }, 600_000);

  it("a table's rows are cards on a phone: every cell labelled by its column, the key column on screen", async () => {
    const page = await walk.login('clerk', 'en', PHONE);
    await page.goto(`${walk.desk.bo.url!}/#/prepaid/E-E1-101`);
    await settled(page);
    const table = page.locator('main table').first();
    await table.waitFor();
    const cards = await table.evaluate((tbl: HTMLTableElement) => {
      const headers = Array.from(tbl.tHead!.rows[0]!.cells).map((c) => c.textContent!.trim());
      const row = tbl.tBodies[0]!.rows[0]!;
      const cells = Array.from(row.cells).map((c) => {
        const r = c.getBoundingClientRect();
        return { label: c.dataset.label, left: r.left, right: r.right, top: r.top, shown: r.height > 0 };
      });
      return {
        headers,
        cells,
        headVisible: getComputedStyle(tbl.tHead!).display !== 'none',
        rowDisplay: getComputedStyle(row).display,
      };
    });
    expect(cards.headVisible).toBe(false);
    expect(cards.rowDisplay).toBe('block');
    // A column without a heading (a row's buttons) has no label to give.
    expect(cards.cells.map((c) => c.label)).toEqual(cards.headers.map((x) => x || undefined));
    for (const c of cards.cells) {
      expect(c.left).toBeGreaterThanOrEqual(0);
      expect(c.right).toBeLessThanOrEqual(PHONE.width);
    }
    // Stacked: each cell under the one before, not beside it.
    const shown = cards.cells.filter((c) => c.shown);
    expect(shown.length).toBeGreaterThan(3);
    for (let i = 1; i < shown.length; i++) expect(shown[i]!.top).toBeGreaterThan(shown[i - 1]!.top);
    // The overflow measure finds a page wider than the phone and names what sticks out.
    await page.evaluate(() => {
      const wide = document.createElement('div');
      wide.dataset.probe = 'wide';
      wide.style.width = '600px';
      wide.style.height = '1em';
      document.querySelector('main')!.append(wide);
    });
    const o = await overflow(page);
    expect(o.width).toBeGreaterThan(PHONE.width);
    expect(o.culprits.join(' ')).toContain('probe=wide');
    await page.evaluate(() => document.querySelector('[data-probe=wide]')!.remove());
    expect((await overflow(page)).width).toBeLessThanOrEqual(PHONE.width);
    // A table a page draws later, with a heading over two columns, is labelled by the observer
    // (a cell that brought its own label keeps it).
    const labels = await page.evaluate(async () => {
      const tpl = document.createElement('template');
      tpl.innerHTML =
        '<table data-probe="late"><thead><tr><th>Meter</th><th colspan="2">Reading</th><th>State</th></tr></thead>' +
        '<tbody><tr><td>E-1</td><td>12</td><td>kWh</td><td data-label="Own">ok</td></tr></tbody></table>';
      document.querySelector('main')!.append(tpl.content);
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return Array.from(document.querySelectorAll('[data-probe=late] td')).map(
        (td) => (td as HTMLElement).dataset.label,
      );
    });
    expect(labels).toEqual(['Meter', 'Reading', 'Reading', 'Own']);
    // On a desk the same table is a table again, its header shown.
    await page.setViewportSize({ width: 1366, height: 768 });
    expect(await table.evaluate((tbl: HTMLTableElement) => getComputedStyle(tbl.tHead!).display)).not.toBe(
      'none',
    );
    expect(await page.locator('button[data-action=menu]').isVisible()).toBe(false);
    expect(await page.locator('nav.app-nav').isVisible()).toBe(true);
    await page.context().close();
  }, 60_000);
});
