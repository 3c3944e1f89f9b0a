import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { startDesk, type Desk } from './desk-harness.ts';

/**
 * The supervisor's queue of prepaid requests (page-approvals.js), in Chromium on the whole back
 * office: a refund a clerk asked for is approved with one click and booked; another is rejected
 * with the reason typed next to it, which the server keeps; the clerk who asked (a supervisor too)
 * sees their own requests without buttons.
 */

const NOW = Date.UTC(2026, 11, 2, 2, 0); // 10:00 in Asia/Shanghai
const SHOTS = join(process.cwd(), 'test-results', 'screenshots');
const clerk: Actor = { id: 'clerk.wang', kind: 'user', roles: ['clerk'] };
/** A clerk who is also a supervisor: the queue shows them their own requests without buttons. */
const lead: Actor = { id: 'lead.zhao', kind: 'user', roles: ['clerk', 'supervisor'] };
const supervisor: Actor = { id: 'sup.li', kind: 'user', roles: ['supervisor'] };

describe('prepaid requests on the approvals page', () => {
  let desk: Desk;
  const refunds: Record<string, number> = {};

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    desk = await startDesk({
      name: 'approvals-prepaid',
      now: NOW,
      staff: [
        ['clerk.wang', 'clerk'],
        ['lead.zhao', ['clerk', 'supervisor']],
        ['sup.li', 'supervisor'],
      ],
    });
    for (const room of ['A101', 'A102']) {
      const id = `ROOM-${room}`;
      desk.bo.prepaid.openAccount(clerk, {
        id,
        customerType: 'student-room',
        holder: `Holder ${room}`,
        meters: [`M-${room}`],
      });
      desk.bo.prepaid.verifyTariffType(supervisor, id);
      desk.bo.prepaid.topUp(clerk, { account: id, amountFen: 5_000, method: 'cash', reference: `S-${room}` });
      refunds[id] = desk.bo.prepaid.requestRefund(lead, {
        account: id,
        amountFen: 2_000,
        method: 'cash',
        reason: 'moving out',
      }).id;
    }
  }, 120_000);

  afterAll(async () => {
    await desk?.close();
  });

  it('approves one refund, rejects the other with its reason; the requester gets no buttons', async () => {
    const own = await desk.openAs('lead.zhao', 'en', '#/approvals', 'prepaid');
    const mine = own.locator(`[data-prepaid-request="${refunds['ROOM-A101']}"]`);
    await mine.waitFor();
    expect(await mine.locator('button').count()).toBe(0);
    await own.context().close();

    const sup = await desk.openAs('sup.li', 'en', '#/approvals', 'prepaid');
    const first = sup.locator(`[data-prepaid-request="${refunds['ROOM-A101']}"]`);
    await first.locator('[data-action=approve]').click();
    await first.waitFor({ state: 'detached' });
    expect(desk.bo.prepaid.request(refunds['ROOM-A101']!)).toMatchObject({
      status: 'approved',
      decidedBy: 'sup.li',
    });
    expect(desk.bo.prepaid.balance('ROOM-A101')).toBe(3_000);

    const second = sup.locator(`[data-prepaid-request="${refunds['ROOM-A102']}"]`);
    await second.locator('input[name=reason]').fill('no move-out form');
    await sup.screenshot({ path: join(SHOTS, 'approvals-prepaid-en.png'), fullPage: true });
    await second.locator('[data-action=reject]').click();
    await second.waitFor({ state: 'detached' });
    expect(desk.bo.prepaid.request(refunds['ROOM-A102']!)).toMatchObject({
      status: 'rejected',
      decidedBy: 'sup.li',
      decisionReason: 'no move-out form',
    });
    expect(desk.bo.prepaid.balance('ROOM-A102')).toBe(5_000);
    expect(desk.errors).toEqual([]);
    await sup.context().close();
  });
});
