import type { BrowserContext, Page } from 'playwright-core';
import type { Finding } from '../../services/inspection/detection/types.ts';
import { ROLES, type Role } from '../../services/platform/auth/roles.ts';
import { PASSWORD, startDesk, type Desk } from './desk-harness.ts';
import { registers } from './register-readings.ts';
import { signIn } from '../helpers/sign-in.ts';

/**
 * The back office on the demo campus at a fixed clock with one member of staff per role and a
 * morning's work done (readings, two alerts, a prepaid account opened, verified, sold to and a
 * refund asked for), so that lists, ledgers and the audit have rows to lay out. The phone and
 * screenshot walks (phone.test.ts, screens.test.ts) open every page of every role through it.
 */

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 1, 16, 0);
export const NOW = T0 + 10 * HOUR;
const ROOM = 'E-E1-101';
const ROOM2 = 'E-E1-102';
const MAIN = 'E-E1-MAIN';

/** Every role there is, so a role added later is walked too. */
export const USERS = Object.fromEntries(ROLES.map((r) => [r, `${r.replace(/[^a-z]/g, '')}.walk`])) as Record<
  Role,
  string
>;

const FINDINGS: Finding[] = [
  {
    type: 'energy-balance',
    key: `energy-balance:${MAIN}:1`,
    severity: 'high',
    node: MAIN,
    score: 1,
    since: T0,
    reason: `unexplained loss at ${MAIN}: 7.00 kWh (4.4 % of throughput) above the technical-loss band`,
    evidence: {
      from: T0,
      to: T0 + 8 * HOUR,
      unit: 'kWh',
      figures: {
        unexplained: 7,
        share: 0.044,
        slots: 8,
        bandC0: 0.5,
        bandC1: 0.05,
        bandC2: 0,
        bandLearned: 'learned',
      },
    },
  },
  {
    type: 'illegal-load',
    key: `illegal-load:${ROOM}`,
    severity: 'medium',
    meter: ROOM,
    score: 0.5,
    since: T0 + HOUR,
    reason: 'resistive load of 1.79 kW',
    evidence: { from: T0, to: T0 + 2 * HOUR, figures: { deltaPKw: 1.79, incrementalPf: 0.998, steps: 1 } },
  },
];

export interface Walk {
  desk: Desk;
  /** A signed-in context for `role` in `lang` at the given viewport (errors go to desk.errors). */
  login(role: Role, lang: 'zh' | 'en', viewport: { width: number; height: number }): Promise<Page>;
  /** The role's pages: its navigation's entries, plus one alert's, one meter's and one account's detail. */
  hashes(page: Page): Promise<{ navs: string[]; extra: string[] }>;
  close(): Promise<void>;
}

export async function startWalk(name: string): Promise<Walk> {
  const from = T0 - 24 * HOUR;
  const to = T0 + 9 * HOUR;
  const desk = await startDesk({
    name,
    now: NOW,
    staff: (Object.entries(USERS) as [Role, string][]).filter(([r]) => r !== 'admin').map(([r, u]) => [u, r]),
    readings: [
      ...registers(MAIN, 'electricity', from, to, () => 4, 1),
      ...registers(ROOM, 'electricity', from, to, () => 1.5, 1),
      ...registers(ROOM2, 'electricity', from, to, () => 2, 1),
    ],
  });
  const { bo } = desk;
  bo.alerts.sync(FINDINGS, NOW);
  const as = (role: Role) => ({ id: USERS[role], kind: 'user' as const, roles: [role] });
  bo.prepaid.openAccount(as('clerk'), {
    id: ROOM,
    customerType: 'staff-household',
    holder: '王小明',
    meters: [ROOM],
  });
  bo.prepaid.verifyTariffType(as('supervisor'), ROOM);
  bo.prepaid.topUp(as('clerk'), { account: ROOM, amountFen: 5_050, method: 'cash', reference: 'R-0001' });
  bo.prepaid.requestRefund(as('clerk'), { account: ROOM, amountFen: 1_000, method: 'cash', reason: '搬离' });
  const contexts: BrowserContext[] = [];
  return {
    desk,
    async login(role, lang, viewport) {
      const username = role === 'admin' ? 'admin.zhou' : USERS[role];
      const context = await desk.browser.newContext({
        locale: lang === 'zh' ? 'zh-CN' : 'en-US',
        timezoneId: 'UTC',
        viewport,
      });
      contexts.push(context);
      const page = await context.newPage();
      page.on('pageerror', (err) => desk.errors.push(`${role} ${lang} ${page.url()}: ${err.message}`));
      await signIn(page, bo.url!, username, PASSWORD, { lang });
      return page;
    },
    async hashes(page) {
      const navs = await page.$$eval('nav.app-nav a[data-nav]', (as) =>
        as.map((a) => (a as HTMLElement).dataset.nav!),
      );
      const extra: string[] = [];
      if (navs.includes('alerts')) extra.push(`alerts/${bo.alerts.list({})[0]!.id}`);
      if (navs.includes('meter')) extra.push(`meter/${ROOM}`);
      if (navs.includes('prepaid')) extra.push(`prepaid/${ROOM}`);
      return { navs, extra };
    },
    async close() {
      for (const c of contexts.splice(0)) await c.close().catch(() => undefined);
      await desk.close();
    },
  };
}

/** What a page says while it is still fetching, in either language (list.js, i18n, the pages' own). */
const LOADING =
  /Loading…|Loading alerts|加载中|正在加载|Reading the meters|正在读取表计|Computing the report|正在计算报表/;

/**
 * Waits until the page at `hash` is drawn: its main area holds more than the time-zone line and
 * nothing says it is loading. Returns the loading text still shown after `ms`, or null.
 */
export async function settled(page: Page, ms = 8_000): Promise<string | null> {
  const source = LOADING.source;
  try {
    await page.waitForFunction(
      (src) => {
        const main = document.querySelector('main');
        if (!main || main.children.length <= 1 || main.querySelector('[data-overview=loading]')) return false;
        return !new RegExp(src).test(main.innerText);
      },
      source,
      { timeout: ms },
    );
    // A page draws its sections as their requests return: wait until main stops changing for a
    // quarter second (at most two; a live page's SSE may keep changing it).
    await page.evaluate(async () => {
      const main = document.querySelector('main')!;
      let last = main.innerHTML;
      let still = 0;
      for (let i = 0; i < 40 && still < 5; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const now = main.innerHTML;
        still = now === last ? still + 1 : 0;
        last = now;
      }
    });
    return null;
  } catch {
    const text = await page
      .locator('main')
      .innerText()
      .catch(() => '');
    return LOADING.exec(text)?.[0] ?? 'nothing drawn';
  }
}

/**
 * The document's width at this viewport and, when wider than it, the widest elements that stick
 * out on the right (tag, class, data-*), so a failure names what to fix.
 */
export async function overflow(page: Page): Promise<{ width: number; culprits: string[] }> {
  return page.evaluate(() => {
    const width = document.documentElement.scrollWidth;
    const vw = document.documentElement.clientWidth;
    const culprits: string[] = [];
    if (width > vw) {
      for (const el of Array.from(document.querySelectorAll('main *, header *'))) {
        const r = el.getBoundingClientRect();
        if (r.right > vw + 1 && r.width > 0) {
          const parentSticks = el.parentElement && el.parentElement.getBoundingClientRect().right > vw + 1;
          if (parentSticks && el.parentElement!.tagName !== 'MAIN') continue;
          const data = Object.entries((el as HTMLElement).dataset)
            .map(([k, v]) => `${k}=${v}`)
            .join(',');
          culprits.push(`${el.tagName.toLowerCase()}.${el.className}[${data}] right=${Math.round(r.right)}`);
        }
      }
    }
    return { width, culprits: culprits.slice(0, 4) };
  });
}
