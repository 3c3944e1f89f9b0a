import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StoredReading } from '../../services/metering/storage.ts';
import { local } from '../billing/support.ts';
import { startDesk, type Desk } from './desk-harness.ts';

/**
 * The annual plans page in headless Chromium against the whole back office (real VEE over SQLite
 * readings: W-E1 used 30 m³ in November 2026; the clock stands at 1 December): an operator
 * proposes in English, a supervisor approves in Chinese and sees 30 of a 35 m³ plan used, past
 * the 80 % warning.
 */

const NOW = local(2026, 12, 1, 8);
let desk: Desk;
const loginAs = (username: string, lang: 'zh' | 'en') => desk.openAs(username, lang, '#/plans/2026', 'plans');

beforeAll(async () => {
  const readings: StoredReading[] = [];
  const from = local(2026, 11, 1);
  for (let ts = from, seq = 0; ts <= local(2026, 12, 1); ts += 15 * 60_000, seq++)
    readings.push({
      ...{ meter: 'W-E1', ts, seq, quality: 'good', site: 'east', gateway: 'gw-east', kind: 'water' },
      values: { volume_m3: 5000 + (ts - from) / 86_400_000 },
    });

  desk = await startDesk({
    name: 'plans-page',
    now: NOW,
    staff: [
      ['op.zhao', 'operator'],
      ['sup.li', 'supervisor'],
    ],
    readings,
  });
});

afterAll(async () => desk?.close());

afterEach(() => {
  expect(desk.errors.splice(0)).toEqual([]);
});

describe('annual plans page', () => {
  it('an operator proposes in English; a supervisor approves in Chinese and sees the 80 % warning', async () => {
    const op = await loginAs('op.zhao', 'en');
    expect(await op.locator('h1').textContent()).toBe('Annual water plans 2026');
    await op.fill('input[name=unit]', 'dorm-e1');
    await op.fill('input[name=name]', 'Dorm E1');
    await op.fill('input[name=meters]', 'W-E1');
    await op.fill('input[name=quantity]', '35');
    await op.click('form[data-form=propose-plan] button[type=submit]');
    const row = op.locator('[data-plan="1"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('Awaiting approval');
    expect(await row.locator('[data-action=approve]').count()).toBe(0);
    // A meter of another utility: the server's reason, nothing proposed.
    await op.fill('input[name=meters]', 'E-E1-101');
    await op.click('form[data-form=propose-plan] button[type=submit]');
    await op.locator('.note-error').waitFor();
    expect(await op.locator('.note-error').textContent()).toContain('E-E1-101');
    await op.context().close();

    const sup = await loginAs('sup.li', 'zh');
    expect(await sup.locator('h1').textContent()).toBe('年度用水计划 2026');
    await sup.locator('[data-plan="1"] [data-action=approve]').click();
    await sup.waitForSelector('[data-plan="1"][data-state=approved]');
    const r = sup.locator('[data-plan="1"]');
    expect(await r.textContent()).toContain('已批准');
    // 30 of 35 m³: 85.71 %, past the first warning.
    expect(await r.textContent()).toContain('85.71 %');
    expect(await r.locator('[data-level]').getAttribute('data-level')).toBe('80');
    await sup.context().close();
  });
});
