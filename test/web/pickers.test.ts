import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDesk, type Desk } from './desk-harness.ts';

/**
 * The app's own date and file pickers (inputs.js) on a Chinese page in an English browser (the
 * harness's browser is en-US for zh pages too, as a Chinese reader's borrowed laptop may be): the
 * browser would draw its own in English ("mm/dd/yyyy", "Choose File / No file chosen"). The
 * invoice import still reads the file it is given; a typed day in another form is refused by the
 * field before anything is sent. (The language walk holds every page of every role to it.)
 */

const NOW = Date.UTC(2026, 11, 3, 1, 0);
const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
let desk: Desk;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  desk = await startDesk({ name: 'pickers', now: NOW, staff: [['bill.zhou', 'billing']] });
}, 120_000);
afterAll(async () => desk?.close());
afterEach(() => {
  expect(desk.errors.splice(0)).toEqual([]);
});

describe('date and file pickers in the page’s language', () => {
  it('the invoice import shows its button and the file’s name in Chinese, and fills the form from the file', async () => {
    const page = await desk.openAs('bill.zhou', 'zh', '#/billing', 'runs');
    const form = page.locator('form[data-form=invoice-check]');
    const picker = form.locator('[data-picker=file]');
    expect((await picker.innerText()).replace(/\s+/g, ' ').trim()).toBe('选择文件 未选择文件');
    await form.locator('input[name=import]').setInputFiles({
      name: 'invoice-east.json',
      mimeType: 'application/json',
      buffer: Buffer.from(
        JSON.stringify({
          supplyPoint: 'SP-EAST-10KV',
          invoiceNo: 'GD-2026-11-0001',
          quantity: 2545.92,
          elements: [{ name: 'energy', amountFen: 157_847 }],
        }),
      ),
    });
    await expect.poll(() => form.locator('input[name=invoiceNo]').inputValue()).toBe('GD-2026-11-0001');
    expect(await form.locator('input[name=supplyPoint]').inputValue()).toBe('SP-EAST-10KV');
    expect(await form.locator('textarea[name=elements]').inputValue()).toBe('energy, 1578.47');
    expect((await picker.innerText()).replace(/\s+/g, ' ').trim()).toBe('选择文件 invoice-east.json');
    await page.screenshot({ path: join(SHOTS, 'pickers-billing-zh.png'), fullPage: true });
    await page.context().close();
  });

  it('a day is typed as the placeholder says, and one typed otherwise is refused before sending', async () => {
    const page = await desk.openAs('bill.zhou', 'zh', '#/billing', 'runs');
    const from = page.locator('input[name=effectiveFrom]');
    expect(await from.getAttribute('type')).toBe('text');
    expect(await from.getAttribute('placeholder')).toBe('年-月-日，如 2026-12-01');
    expect(await from.getAttribute('lang')).toBe('zh-CN');
    await from.fill('12/01/2026');
    expect(await from.evaluate((i: HTMLInputElement) => i.validity.patternMismatch)).toBe(true);
    await from.fill('2026-12-01');
    expect(await from.evaluate((i: HTMLInputElement) => i.validity.valid)).toBe(true);
    await page.context().close();
  });
});
