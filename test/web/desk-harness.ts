import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { validateCampus } from '../../config/campus.ts';
import { createBackofficeServer, type RunningBackofficeServer } from '../../services/backoffice/server.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import type { Role } from '../../services/platform/auth/roles.ts';
import { demoCampus } from '../../simulators/campus/demo-campus.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { testLogger } from '../helpers/logger.ts';
import { signIn } from '../helpers/sign-in.ts';

/**
 * The whole back office on the demo campus (two rooms a floor) on a fixed clock, with staff of the
 * given roles: `startDeskServer` for the tests over HTTP (each staff member signed in, a request as
 * any of them), `startDesk` with headless Chromium for the operations-desk page tests: each signs
 * people in and opens its page, in zh or en, with the browser in UTC so that a time shown right is
 * the page's doing. Page errors are collected for the test to assert none.
 */

export const PASSWORD = 'correct horse battery staple';

type RawCampus = ReturnType<typeof demoCampus>;

export interface DeskServer {
  bo: RunningBackofficeServer;
  /** The campus's data folder (the campus file's dataDir). */
  dir: string;
  /** The embedded broker the back office listens to (gateway status and device health go here). */
  brokerUrl: string;
  /** A request as `user` (a bearer token from `logIn`), or without one (null). */
  as(
    user: string | null,
    method: 'GET' | 'POST',
    url: string,
    payload?: object,
  ): Promise<LightMyRequestResponse>;
  /** Signs every staff member (and the administrator) in again: sessions end when unused for long. */
  logIn(): Promise<void>;
  close(): Promise<void>;
}

export interface DeskOptions {
  name: string;
  now: number;
  staff: readonly (readonly [string, Role | readonly Role[]])[];
  readings?: StoredReading[];
  /** Changes the raw demo campus before it is validated (e.g. a rating). */
  edit?: (raw: RawCampus) => void;
}

/** The back office on the demo campus over HTTP, its staff provisioned and signed in. */
export async function startDeskServer(o: DeskOptions): Promise<DeskServer> {
  const dir = mkdtempSync(join(tmpdir(), `${o.name}-`));
  const broker: EmbeddedBroker = await startEmbeddedBroker();
  const store = SqliteStore.open({ path: ':memory:' });
  if (o.readings) await store.writeReadings(o.readings);
  const ports = Array.from({ length: 20 }, (_, i) => 20_000 + i);
  const raw = demoCampus({ ports, dataDir: dir, roomsPerFloorLine: 2 });
  o.edit?.(raw);
  const campus = validateCampus(raw, { file: join(dir, 'campus.yaml'), dir });
  const bo = await createBackofficeServer({
    // A getter for `now` in the options moves the back office's clock with it.
    ...{ campus, mqtt: { url: broker.url }, store, logger: testLogger(), clock: () => o.now },
    http: { host: '127.0.0.1', port: 0, secureCookie: false },
    bootstrapAdmin: { username: 'admin.zhou', password: PASSWORD },
    scryptCost: 1024,
    detection: false,
  });
  for (const [username, role] of o.staff) {
    const roles = typeof role === 'string' ? [role] : [...role];
    await bo.users.provisionUser({ username, displayName: username, roles, password: PASSWORD });
  }
  const tokens: Record<string, string> = {};
  const logIn = async () => {
    for (const username of ['admin.zhou', ...o.staff.map(([u]) => u)]) {
      const res = await bo.app!.inject({
        method: 'POST',
        url: '/api/session',
        payload: { username, password: PASSWORD },
      });
      if (res.statusCode !== 201) throw new Error(`${username} could not sign in: ${res.body}`);
      tokens[username] = res.json().token;
    }
  };
  await logIn();
  return {
    bo,
    dir,
    brokerUrl: broker.url,
    as: (user, method, url, payload) =>
      bo.app!.inject({
        method,
        url,
        ...(method === 'POST' ? { payload: payload ?? {} } : {}),
        headers: user ? { authorization: `Bearer ${tokens[user]}` } : {},
      }),
    logIn,
    async close() {
      await bo.stop();
      await store.close();
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Desk {
  bo: RunningBackofficeServer;
  browser: Browser;
  errors: string[];
  /** The embedded broker the back office listens to (gateway status and device health go here). */
  brokerUrl: string;
  /** Signs `username` in and opens `hash` (e.g. '#/plans/2026'), waiting for `[data-section=<section>]`. */
  openAs(username: string, lang: 'zh' | 'en', hash: string, section: string): Promise<Page>;
  close(): Promise<void>;
}

export async function startDesk(o: DeskOptions): Promise<Desk> {
  const server = await startDeskServer(o);
  const { bo } = server;
  const browser: Browser = await launchChromium();
  const errors: string[] = [];
  return {
    bo,
    browser,
    errors,
    brokerUrl: server.brokerUrl,
    async openAs(username, lang, hash, section) {
      const context = await browser.newContext({
        locale: lang === 'zh' ? 'zh-CN' : 'en-US',
        timezoneId: 'UTC',
        viewport: { width: 420, height: 900 },
      });
      const page = await context.newPage();
      page.on('pageerror', (err) => errors.push(`${username}: ${err.message}`));
      await signIn(page, bo.url!, username, PASSWORD);
      await page.goto(`${bo.url!}/${hash}`);
      await page.waitForSelector(`[data-section=${section}]`);
      return page;
    },
    async close() {
      await browser.close();
      await server.close();
    },
  };
}
