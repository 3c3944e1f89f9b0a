import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../services/platform/auth/roles.ts';
import { overflow, settled, startWalk, USERS, type Walk } from './phone-walk.ts';

/**
 * Issue 15 item 5: every page of every role in both languages photographed on a desk (1366×768)
 * and on a phone (390×844), for a person to look at. The pictures go to a fresh folder under the
 * OS temp dir, printed at the end (never committed). The walk fails on any page error, any page
 * wider than the phone, or any page still loading once it should be drawn. One browser, one
 * context per role and language; each page is drawn once and photographed at both sizes.
 */

const DESK = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

describe('screenshots of every page', () => {
  let walk: Walk;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'campus-energy-screens-'));
    walk = await startWalk('screens');
  }, 60_000);

  afterAll(async () => {
    await walk?.close();
    if (dir) console.log(`screenshots in ${dir}`);
  });

  it('every page of every role, zh and en, at 1366x768 and 390x844', async () => {
    const wide: string[] = [];
    const stuck: string[] = [];
    let shots = 0;
    const started = performance.now();
    for (const lang of ['zh', 'en'] as const) {
      for (const role of Object.keys(USERS) as Role[]) {
        const page = await walk.login(role, lang, DESK);
        const { navs, extra } = await walk.hashes(page);
        // The phone's menu, open: every page of the role in reach.
        await page.setViewportSize(PHONE);
        await page.click('button[data-action=menu]');
        await page.screenshot({ path: join(dir, `menu-${role}-${lang}-390.png`) });
        await page.click('button[data-action=menu]');
        shots++;
        for (const hash of [...navs, ...extra]) {
          await page.setViewportSize(DESK);
          await page.goto(`${walk.desk.bo.url!}/#/${hash}`);
          const loading = await settled(page);
          if (loading) stuck.push(`${lang} ${role} ${hash}: ${loading}`);
          const name = `${hash.split('/')[0]}${hash.includes('/') ? '-detail' : ''}-${role}-${lang}`;
          await page.screenshot({ path: join(dir, `${name}-1366.png`) });
          await page.setViewportSize(PHONE);
          // A resize redraws nothing but the layout; a frame for the table labels' observer.
          await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null))));
          const o = await overflow(page);
          if (o.width > PHONE.width)
            wide.push(`${lang} ${role} ${hash}: ${o.width}px ${o.culprits.join(' | ')}`);
          await page.screenshot({ path: join(dir, `${name}-390.png`) });
          shots += 2;
        }
        await page.context().close();
      }
    }
    for (const w of wide) console.log(`wider than the phone: ${w}`);
    for (const s of stuck) console.log(`still loading: ${s}`);
    console.log(`${shots} screenshots in ${Math.round((performance.now() - started) / 1000)} s`);
    expect(shots).toBeGreaterThan(100);
    expect(wide).toEqual([]);
    expect(stuck).toEqual([]);
    expect(walk.desk.errors).toEqual([]);
  }, 600_000);
});
