import type { Page } from 'playwright-core';

/**
 * Signs `username` in through the back office's login form at `url`, as a person does, in `page`
 * (a fresh browser context: its own cookies), and waits until the app shows them signed in.
 * `lang`: the language button pressed on the login page first; the app keeps the choice.
 */
export async function signIn(
  page: Page,
  url: string,
  username: string,
  password: string,
  o: { lang?: 'zh' | 'en' } = {},
): Promise<void> {
  await page.goto(`${url}/`);
  if (o.lang) await page.locator(`button[data-lang=${o.lang}]`).click();
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('form[data-form=login] button[type=submit]');
  await page.waitForSelector(`[data-user="${username}"]`, { state: 'attached' });
}
