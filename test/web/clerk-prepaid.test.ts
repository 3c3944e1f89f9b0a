import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { startDesk, type Desk } from './desk-harness.ts';

/**
 * Issue 24 item 2, the clerk at the business-office counter, in Chromium on the whole back office:
 * lands on prepaid; finds an account by room, name, account number or meter (the server searches,
 * 50 a page); the low-balance and out-of-credit lists; a sale and a refund each give a receipt
 * that prints alone (read back from the PDF, no navigation in it) and whose button calls
 * window.print; amounts typed wrong are explained next to the field and nothing is sent.
 */

const NOW = Date.UTC(2026, 11, 2, 2, 0); // 10:00 in Asia/Shanghai, a Wednesday
const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
const CLERK = 'clerk.wang';

const clerk: Actor = { id: CLERK, kind: 'user', roles: ['clerk'] };
const supervisor: Actor = { id: 'sup.li', kind: 'user', roles: ['supervisor'] };

/** Four rooms whose balances sit in each level of a student room (alarm 20.00 / 5.00 yuan), and 55 more. */
const ROOMS = [
  { room: 'A101', holder: '王小明', fen: 5_000 }, // in credit
  { room: 'A102', holder: '李四', fen: 1_000 }, // low
  { room: 'A103', holder: '赵六', fen: 300 }, // very low
  { room: 'A104', holder: '钱七', fen: 0 }, // out of credit
  ...Array.from({ length: 55 }, (_, i) => ({
    room: `B2${String(i).padStart(2, '0')}`,
    holder: `学生${i}`,
    fen: 10_000,
  })),
];

async function pdfText(pdf: Buffer): Promise<string> {
  const { getDocument } = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const doc = await getDocument({ data: new Uint8Array(pdf), useSystemFonts: false }).promise;
  const pages: string[] = [];
  for (let i = 1; i <= doc.numPages; i++) {
    const content = await (await doc.getPage(i)).getTextContent();
    pages.push(content.items.map((it) => ('str' in it ? it.str : '')).join(''));
  }
  await doc.destroy();
  return pages.join('\n');
}

const rowsOf = (page: Page) =>
  page.$$eval('[data-section=accounts] tr[data-account]', (trs) =>
    trs.map((tr) => `${(tr as HTMLElement).dataset.account}:${(tr as HTMLElement).dataset.level}`),
  );

describe('the clerk at the prepaid counter', () => {
  let desk: Desk;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    desk = await startDesk({
      name: 'clerk-prepaid',
      now: NOW,
      staff: [
        [CLERK, 'clerk'],
        ['sup.li', 'supervisor'],
      ],
    });
    for (const r of ROOMS) {
      const id = `ROOM-${r.room}`;
      desk.bo.prepaid.openAccount(clerk, {
        id,
        customerType: 'student-room',
        holder: r.holder,
        meters: [`M-${r.room}`],
      });
      desk.bo.prepaid.verifyTariffType(supervisor, id);
      if (r.fen > 0)
        desk.bo.prepaid.topUp(clerk, {
          account: id,
          amountFen: r.fen,
          method: 'cash',
          reference: `S-${r.room}`,
        });
    }
  }, 120_000);

  afterAll(async () => {
    await desk?.close();
  });

  it('lands on prepaid and finds an account by room, name, account number or meter, 50 a page', async () => {
    const page = await desk.openAs(CLERK, 'zh', '', 'accounts');
    expect(new URL(page.url()).hash).toBe('#/prepaid');
    await page.setViewportSize({ width: 1366, height: 768 });
    const search = async (q: string) => {
      await page.fill('form[data-form=account-search] input[name=q]', q);
      await page.click('form[data-form=account-search] button[type=submit]');
      await page.waitForSelector(`[data-section=accounts][data-q="${q}"] h2`);
      return rowsOf(page);
    };
    expect(await search('王小明')).toEqual(['ROOM-A101:ok']);
    expect(await search('a102')).toEqual(['ROOM-A102:low']); // the room, in any letter case
    expect(await search('M-A103')).toEqual(['ROOM-A103:urgent']); // the meter
    expect(await search('ROOM-A104')).toEqual(['ROOM-A104:out']);
    expect(await search('nobody')).toEqual([]);
    expect(await page.locator('[data-section=accounts] .note').innerText()).toContain('房间号');

    expect(await search('ROOM-B')).toHaveLength(50);
    expect(await page.locator('[data-section=accounts] [data-total]').first().innerText()).toBe(
      '第 1–50 户，共 55 户',
    );
    await page.locator('[data-action=next]').first().click();
    await page.waitForSelector('[data-section=accounts][data-offset="50"] h2');
    expect(await rowsOf(page)).toEqual(ROOMS.slice(-5).map((r) => `ROOM-${r.room}:ok`));

    // The server's page is at most 200; a typed % or _ is a character, not a wildcard.
    const api = (q: string) => page.request.get(`${desk.bo.url!}/api/accounts?${q}`);
    const tooMany = await api('limit=201');
    expect(tooMany.status()).toBe(400);
    expect(await tooMany.json()).toMatchObject({
      code: 'INVALID_REQUEST',
      message: expect.stringContaining('1 to 200'),
    });
    expect((await (await api('limit=200')).json()).accounts).toHaveLength(59);
    expect((await (await api('q=%25')).json()).total).toBe(0);
    expect((await (await api('q=ROOM_A')).json()).total).toBe(0);
    expect((await api('list=all')).status()).toBe(400);
    await page.context().close();
  });

  it('lists low balances (most urgent first) and accounts out of credit', async () => {
    const page = await desk.openAs(CLERK, 'zh', '#/prepaid?list=low', 'accounts');
    expect(await rowsOf(page)).toEqual(['ROOM-A104:out', 'ROOM-A103:urgent', 'ROOM-A102:low']);
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.screenshot({ path: join(SHOTS, 'clerk-low-balance-zh-1366.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(SHOTS, 'clerk-low-balance-zh-390.png') });
    await page.click('[data-list=out]');
    await page.waitForSelector('[data-section=accounts][data-list=out] h2');
    expect(await rowsOf(page)).toEqual(['ROOM-A104:out']);
    await page.context().close();
  });

  it('sells with a receipt that prints alone; a wrongly typed amount is explained next to its field', async () => {
    const page = await desk.openAs(CLERK, 'zh', '#/prepaid/ROOM-A101', 'ledger');
    await page.setViewportSize({ width: 1366, height: 768 });
    const sale = page.locator('form[data-action=topup]');
    const entries = () => desk.bo.prepaid.ledger('ROOM-A101').length;
    const before = entries();

    await sale.locator('input[name=amount]').fill('50,5');
    await sale.locator('input[name=reference]').fill('R-1001');
    await sale.locator('button[type=submit]').click();
    const amountError = sale.locator('#err-amount');
    await expect.poll(() => amountError.innerText()).toBe('小数请用小数点：50.5，而不是 50,5。');
    expect(await sale.locator('input[name=amount]').getAttribute('aria-invalid')).toBe('true');
    expect(entries()).toBe(before);

    for (const [typed, says] of [
      ['', '请输入金额（元），如 50 或 50.50。'],
      ['50.505', '最多两位小数（到分），如 50.55。'],
      ['五十', '只能输入数字，小数点后最多两位，如 50 或 50.50。'],
      ['0', '金额必须大于零。'],
      ['1000000.01', '单笔最多 ¥1000000.00。'],
    ] as const) {
      await sale.locator('input[name=amount]').fill(typed);
      await sale.locator('button[type=submit]').click();
      await expect.poll(() => amountError.innerText(), { message: typed }).toBe(says);
    }
    expect(entries()).toBe(before);

    await sale.locator('input[name=amount]').fill('50.50');
    await sale.locator('button[type=submit]').click();
    const receipt = page.locator('[data-receipt=topup]');
    await receipt.waitFor();
    expect(entries()).toBe(before + 1);
    const last = desk.bo.prepaid.ledger('ROOM-A101').at(-1)!;
    expect(last).toMatchObject({ type: 'topup', amountFen: 5_050, reference: 'R-1001', recordedBy: CLERK });
    const field = (f: string) => receipt.locator(`[data-field=${f}]`).innerText();
    expect(await field('amount')).toBe('¥50.50');
    expect(await field('balance')).toBe('¥100.50'); // 50.00 before + 50.50
    expect(await field('method')).toBe('现金');
    expect(await field('reference')).toBe('R-1001');
    expect(await field('time')).toBe('2026-12-02 10:00:00'); // the server's clock, in campus time
    expect(await field('no')).toBe(`#${last.id}`);
    expect(await field('by')).toBe(CLERK);

    // The button prints (window.print), and what prints is the receipt alone.
    await page.evaluate(() => {
      (window as unknown as { printed: number }).printed = 0;
      window.print = () => {
        (window as unknown as { printed: number }).printed++;
      };
    });
    await receipt.locator('[data-action=print-receipt]').click();
    expect(await page.evaluate(() => (window as unknown as { printed: number }).printed)).toBe(1);
    const navTexts = await page.$$eval('nav.app-nav a', (as) => as.map((a) => (a as HTMLElement).innerText));
    expect(navTexts.length).toBeGreaterThan(3);
    const text = await pdfText(await page.pdf({ format: 'A5' }));
    for (const s of [
      '售电收据',
      'ROOM-A101',
      '王小明',
      '¥50.50',
      '¥100.50',
      'R-1001',
      '2026-12-02 10:00:00',
      '用户签字',
    ])
      expect(text, s).toContain(s);
    // Nothing of the page around the receipt: the navigation (a label the receipt itself uses, such
    // as 表计 for its meters, aside), the log-out, the search, the forms, the print button.
    const own = (await receipt.innerText()).replace('打印收据', '');
    const around = [...navTexts, '退出', '房间、户名、账号或表号', '打印收据', '申请退费', '流水'];
    for (const s of around.filter((x) => !own.includes(x))) expect(text, s).not.toContain(s);
    expect(around.filter((x) => !own.includes(x)).length).toBeGreaterThan(8);

    await page.screenshot({ path: join(SHOTS, 'clerk-receipt-zh-1366.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await receipt.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'clerk-receipt-zh-390.png') });

    // The same slip twice: the server refuses it, and says so next to the receipt number.
    await sale.locator('input[name=amount]').fill('10');
    await sale.locator('input[name=reference]').fill('r-1001');
    await sale.locator('button[type=submit]').click();
    await expect
      .poll(() => sale.locator('#err-reference').innerText())
      .toBe('此收据号 / 流水号已登记过，同一笔款不能重复入账。');
    expect(entries()).toBe(before + 1);
    await page.context().close();
  });

  it('asks for a refund with a slip, never more than the refundable balance (English)', async () => {
    const page = await desk.openAs(CLERK, 'en', '#/prepaid/ROOM-A102', 'ledger');
    const refund = page.locator('form[data-action=refund]');
    await refund.locator('input[name=amount]').fill('10.01');
    await refund.locator('input[name=reason]').fill('moving out');
    await refund.locator('button[type=submit]').click();
    await expect
      .poll(() => refund.locator('#err-amount').innerText())
      .toBe('At most the refundable balance, ¥10.00.');
    expect(desk.bo.prepaid.pendingRequests('refund').filter((r) => r.accountId === 'ROOM-A102')).toEqual([]);

    await refund.locator('input[name=amount]').fill('10');
    await refund.locator('button[type=submit]').click();
    const slip = page.locator('[data-receipt=request]');
    await slip.waitFor();
    const [request] = desk.bo.prepaid.pendingRequests('refund').filter((r) => r.accountId === 'ROOM-A102');
    expect(request).toMatchObject({ requestedBy: CLERK, status: 'pending' });
    expect(await slip.locator('[data-field=no]').innerText()).toBe(`#${request!.id}`);
    expect(await slip.locator('[data-field=amount]').innerText()).toBe('¥10.00');
    expect(await slip.innerText()).toContain('Nothing is paid out until a supervisor approves the request.');

    // Once approved, the refund's ledger row gives its own receipt.
    desk.bo.prepaid.approveRefund(supervisor, request!.id);
    await page.reload();
    await page.waitForSelector('[data-section=ledger]');
    await page.locator('tr[data-type=refund] [data-action=receipt]').click();
    const paid = page.locator('[data-receipt=refund]');
    await paid.waitFor();
    expect(await paid.locator('[data-field=amount]').innerText()).toBe('¥10.00');
    expect(await paid.locator('[data-field=balance]').innerText()).toBe('¥0.00');
    expect(await paid.locator('h2').innerText()).toBe('Receipt: refund paid');
    await page.context().close();
    expect(desk.errors).toEqual([]);
  });
});
