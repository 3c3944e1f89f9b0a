import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { principals } from '../../services/platform/auth/independence.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { startDesk, PASSWORD, type Desk } from '../web/desk-harness.ts';

/**
 * The change-password page of the back office (#/password, the link beside the user's name): the
 * path that makes an account its holder's own. A supervisor created under four eyes by two
 * administrators, who set the password with the one-time code, stands for both administrators
 * (independence.ts); changing it on this page, with the current one, ends those links. Refused
 * in the page's words: new passwords that differ; a wrong current password (the server's error).
 */

const NOW = Date.UTC(2026, 11, 5, 2, 0, 0);
let desk: Desk;

beforeAll(async () => {
  desk = await startDesk({ name: 'password-page', now: NOW, staff: [] });
  const { bo } = desk;
  await bo.users.provisionUser({
    username: 'admin.qian',
    displayName: 'admin.qian',
    roles: ['admin'],
    password: PASSWORD,
  });
  const a: Actor = { id: 'admin.zhou', kind: 'user', roles: ['admin'] };
  const b: Actor = { id: 'admin.qian', kind: 'user', roles: ['admin'] };
  const req = bo.users.proposeUser(a, { username: 'new.sup', displayName: 'new.sup', roles: ['supervisor'] });
  const code = (await bo.users.approveRequest(b, req.id)).oneTimeCode!.code;
  await bo.users.redeemCode('new.sup', code, PASSWORD);
}, 120_000);

afterAll(async () => {
  await desk?.close();
});

async function change(page: Page, current: string, next: string, repeat = next) {
  const form = 'form[data-form=change-password]';
  await page.fill(`${form} input[name=current]`, current);
  await page.fill(`${form} input[name=password]`, next);
  await page.fill(`${form} input[name=repeat]`, repeat);
  await page.click(`${form} button[type=submit]`);
}

describe('changing one’s own password in the back office', () => {
  it('ends the links to the administrators who made the account; refusals in words', async () => {
    const { bo } = desk;
    const linked = () => [...principals(bo.db, 'new.sup', NOW)].sort();
    expect(linked()).toEqual(['admin.qian', 'admin.zhou', 'new.sup']);
    const page = await desk.openAs('new.sup', 'zh', '#/password', 'change-password');
    // The header's link beside the user's name leads here.
    expect(await page.locator('header [data-action=password]').innerText()).toBe('修改密码');
    await page.waitForSelector('[data-section=change-password]');
    expect(await page.locator('[data-section=change-password] h1').innerText()).toBe('修改我的密码');
    await change(page, PASSWORD, 'a new password of mine', 'a new password of mien');
    await expect
      .poll(() => page.locator('[data-section=change-password] .note-error').innerText())
      .toBe('两次输入的新密码不一致。');
    await change(page, 'not my password at all', 'a new password of mine');
    // A wrong current password, in the page's words; the session stays.
    await expect
      .poll(() => page.locator('[data-section=change-password] .note-error').innerText())
      .toBe('当前密码不对。');
    expect(linked()).toEqual(['admin.qian', 'admin.zhou', 'new.sup']);
    await change(page, PASSWORD, 'a new password of mine');
    await expect
      .poll(() => page.locator('[data-section=change-password] .note-ok').innerText())
      .toContain('密码已修改');
    expect(linked()).toEqual(['new.sup']);
    await page.screenshot({ path: 'test-results/screenshots/password-page-zh.png', fullPage: true });
    const login = await desk.bo.app!.inject({
      method: 'POST',
      url: '/api/session',
      payload: { username: 'new.sup', password: 'a new password of mine' },
    });
    expect(login.statusCode).toBe(201);
    expect(desk.errors).toEqual([]);
  });
});
