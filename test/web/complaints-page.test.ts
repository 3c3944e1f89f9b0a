import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deliver, GB2312_SUBJECT, GB2312_TIP } from '../complaints/maildir.ts';
import { startDesk, type Desk } from './desk-harness.ts';

/**
 * Complaints and tips in headless Chromium against the whole back office (demo campus, fixed
 * clock, a tip mailbox in the campus folder). In English at 1366×768 the complaints staff record
 * an anonymous hotline tip and a box note, read the mailbox (a GB2312 email), search, assign, link
 * an inspector and a meter, and reveal the tipster; in Chinese at 390×844 the inspector sent reads
 * the case as 匿名 with its words withheld, another of the staff closes it, and the supervisor
 * sees the list without the identity.
 */

const NOW = Date.UTC(2026, 11, 1, 2);
const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
const CALLER = { name: 'Zhao Liuliu', phone: '139 1234 5678' };
let desk: Desk;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  desk = await startDesk({
    name: 'complaints-page',
    now: NOW,
    staff: [
      ['ts.liu', 'complaints'],
      ['ts.ma', 'complaints'],
      ['insp.wang', 'inspector'],
      ['insp.he', 'inspector'],
      ['sup.chen', 'supervisor'],
    ],
    edit: (raw) => Object.assign(raw, { complaints: { mailDrop: 'tips' } }),
  });
});

afterAll(async () => desk?.close());

afterEach(() => {
  expect(desk.errors.splice(0)).toEqual([]);
});

async function open(user: string, lang: 'zh' | 'en', hash: string, section: string, size: [number, number]) {
  const page = await desk.openAs(user, lang, hash, section);
  await page.setViewportSize({ width: size[0], height: size[1] });
  return page;
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

/** The page is no wider than its viewport (nothing off-screen sideways). */
async function fitsWidth(page: Page) {
  const [scroll, client] = await page.evaluate(() => [
    document.documentElement.scrollWidth,
    document.documentElement.clientWidth,
  ]);
  expect(scroll).toBeLessThanOrEqual(client);
}

describe('complaints and tips pages', () => {
  it('the complaints staff record, read the mailbox, search, assign, link and reveal (English, 1366×768)', async () => {
    const page = await open('ts.liu', 'en', '#/complaints', 'complaints', [1366, 768]);
    const form = page.locator('form[data-form=complaint-intake]');
    await form.locator('select[name=channel]').selectOption('hotline');
    await form.locator('input[name=summary]').fill('Corridor lighting circuit tapped in E1');
    await form.locator('textarea[name=details]').fill('Caller lives next door; call back after 18:00.');
    await form.locator('input[name=tipsterName]').fill(CALLER.name);
    await form.locator('input[name=tipsterPhone]').fill(CALLER.phone);
    await form.locator('button[type=submit]').click();
    await page.getByText('Recorded as TS-2026-0001.').waitFor();

    // A box note: the box and the day it was emptied appear with the channel.
    await form.locator('select[name=channel]').selectOption('box');
    await form.locator('input[name=box]').fill('Dorm E1 lobby');
    await form.locator('input[name=boxOpenedOn]').fill('2026-11-30');
    await form.locator('input[name=summary]').fill('Heater in a dorm room every night');
    await form.locator('input[name=anonymous]').uncheck();
    await form.locator('input[name=tipsterName]').fill('Sun Mei');
    await form.locator('button[type=submit]').click();
    await page.getByText('Recorded as TS-2026-0002.').waitFor();

    // An email delivered by the MTA, read by a click.
    deliver(join(dirname(desk.bo.campus.file), 'tips'), GB2312_TIP);
    await page.click('[data-action=scan-mailbox]');
    await page.getByText('Mailbox read: 1 new, 0 flagged, 0 duplicates.').waitFor();
    await page.waitForSelector('tr[data-complaint=TS-2026-0003]');
    const rows = page.locator('tr[data-complaint]');
    expect(await rows.count()).toBe(3);
    await expect
      .poll(() => page.locator('tr[data-complaint=TS-2026-0003]').innerText())
      .toContain(GB2312_SUBJECT);
    // The anonymous ones read "anonymous"; the box note names its (not anonymous) tipster.
    expect(await page.locator('tr[data-complaint=TS-2026-0001]').innerText()).toContain('anonymous');
    expect(await page.locator('tr[data-complaint=TS-2026-0002]').innerText()).toContain('Sun Mei');
    await shot(page, 'complaints-en-1366-list');

    const search = page.locator('form[data-form=complaint-search]');
    await search.locator('input[name=q]').fill('heater');
    await search.locator('button[type=submit]').click();
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-complaint')).toBe('TS-2026-0002');

    await page.goto(`${desk.bo.url!}/#/complaints/TS-2026-0001`);
    await page.waitForSelector('[data-section=complaint][data-complaint=TS-2026-0001]');
    await page.fill('form[data-form=complaint-assign] input[name=assignee]', 'ts.ma');
    await page.click('form[data-form=complaint-assign] button[type=submit]');
    await page.waitForSelector('[data-section=complaint][data-state=assigned]');
    for (const [kind, ref] of [
      ['inspection', 'insp.wang'],
      ['meter', 'E-E1-101'],
    ]) {
      await page.selectOption('form[data-form=complaint-link] select[name=kind]', kind!);
      await page.fill('form[data-form=complaint-link] input[name=ref]', ref!);
      await page.click('form[data-form=complaint-link] button[type=submit]');
      await page.waitForSelector(`[data-link="${kind}:${ref}"]`);
    }
    // A link to nothing is refused in words.
    await page.selectOption('form[data-form=complaint-link] select[name=kind]', 'alert');
    await page.fill('form[data-form=complaint-link] input[name=ref]', '999');
    await page.click('form[data-form=complaint-link] button[type=submit]');
    await page.getByText('Nothing with that number or name exists').waitFor();

    expect(await page.locator('[data-tipster]').innerText()).not.toContain(CALLER.name);
    await page.click('[data-action=reveal]');
    const revealed = await page.locator('[data-revealed]').innerText();
    expect(revealed).toContain(`${CALLER.name} · ${CALLER.phone}`);
    expect(revealed).toContain('Matches what was recorded at intake');
    await fitsWidth(page);
    await shot(page, 'complaints-en-1366-case');
    expect(desk.bo.audit.query({ action: 'complaint.tipster-read' }).map((e) => e.actor)).toEqual(['ts.liu']);
  });

  it('the inspector sent reads the case as 匿名 and read-only; another closes it (Chinese, 390×844)', async () => {
    const insp = await open('insp.wang', 'zh', '#/complaints', 'complaints', [390, 844]);
    await insp.getByText('与我相关的投诉举报').waitFor();
    await insp.waitForSelector('tr[data-complaint=TS-2026-0001]');
    expect(await insp.locator('tr[data-complaint]').count()).toBe(1);
    expect(await insp.locator('form[data-form=complaint-intake]').count()).toBe(0);
    const row = await insp.locator('tr[data-complaint=TS-2026-0001]').innerText();
    expect(row).toContain('匿名');
    expect(row).toContain('办理中');
    await fitsWidth(insp);
    await shot(insp, 'complaints-zh-390-inspector-list');
    await insp.click('a[href="#/complaints/TS-2026-0001"]');
    await insp.waitForSelector('[data-section=complaint]');
    const text = await insp.locator('[data-section=complaint]').innerText();
    expect(text).toContain('举报人要求保密，内容不予显示。');
    expect(text).toContain('派出稽查员 insp.wang');
    expect(text).toContain('关联 (派出稽查员 insp.wang)');
    for (const secret of [CALLER.name, '139', 'next door']) expect(text).not.toContain(secret);
    expect(await insp.locator('form').count()).toBe(0);
    expect(await insp.locator('[data-action=reveal]').count()).toBe(0);
    await fitsWidth(insp);
    await shot(insp, 'complaints-zh-390-inspector-case');

    // An inspector not sent sees nothing, and is told so when opening the case.
    const other = await open('insp.he', 'zh', '#/complaints/TS-2026-0001', 'complaint-view', [390, 844]);
    await other.getByText('该案件未与您关联。').waitFor();
    expect(await other.locator('[data-section=complaint-view]').innerText()).not.toContain('TS-2026-0001 ·');

    const staff = await open('ts.ma', 'zh', '#/complaints/TS-2026-0001', 'complaint', [390, 844]);
    await staff.selectOption('form[data-form=complaint-close] select[name=outcome]', 'substantiated');
    await staff.fill(
      'form[data-form=complaint-close] textarea[name=outcomeNote]',
      '现场查实私接照明线路，已拆除',
    );
    await staff.click('form[data-form=complaint-close] button[type=submit]');
    await staff.waitForSelector('[data-section=complaint][data-state=closed]');
    const closed = await staff.locator('[data-section=complaint]').innerText();
    expect(closed).toContain('情况属实 · 现场查实私接照明线路，已拆除');
    expect(closed).toContain('已办结');
    expect(await staff.locator('form').count()).toBe(0);
    await shot(staff, 'complaints-zh-390-closed');
    await fitsWidth(staff);
  });

  it('the supervisor sees every case without the identity (Chinese, 1366×768)', async () => {
    const page = await open('sup.chen', 'zh', '#/complaints', 'complaints', [1366, 768]);
    await page.waitForSelector('tr[data-complaint=TS-2026-0003]');
    const all = await page.locator('[data-section=complaints]').innerText();
    expect(all).toContain('匿名');
    expect(all).toContain('Sun Mei');
    expect(all).not.toContain(CALLER.name);
    expect(all).not.toContain('李四');
    expect(await page.locator('form[data-form=complaint-intake]').count()).toBe(0);
    await page.goto(`${desk.bo.url!}/#/complaints/TS-2026-0003`);
    await page.waitForSelector('[data-section=complaint][data-complaint=TS-2026-0003]');
    expect(await page.locator('[data-action=reveal]').count()).toBe(0);
    expect(await page.locator('[data-section=complaint]').innerText()).toContain(GB2312_SUBJECT);
    await shot(page, 'complaints-zh-1366-supervisor-case');
  });
});
