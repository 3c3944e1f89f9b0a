import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { startDesk, type Desk } from '../web/desk-harness.ts';
import { header, startSmtp, startWebhook } from '../notices/support.ts';

/**
 * The whole back office on the demo campus with the campus file's notice channels pointing at a
 * real SMTP server and a real HTTP server on loopback: a supervisor's approval over HTTP sends the
 * outage notice to the affected room's customer (a sign-in issued with an address, in Chinese) and
 * one signed webhook post per affected account; the cancellation sends the withdrawal.
 */

const T0 = Date.UTC(2026, 11, 1, 0, 0); // 1 Dec 08:00 Shanghai
const user = (id: string, ...roles: Actor['roles']): Actor => ({ id, kind: 'user', roles });

let desk: Desk;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
let hook: Awaited<ReturnType<typeof startWebhook>>;
let dir: string;

beforeAll(async () => {
  smtp = await startSmtp();
  hook = await startWebhook();
  dir = mkdtempSync(join(tmpdir(), 'outage-notices-'));
  writeFileSync(join(dir, 'hook.key'), Buffer.alloc(32, 9));
  desk = await startDesk({
    name: 'outage-notices',
    now: T0,
    staff: [
      ['op.zhao', 'operator'],
      ['sup.li', 'supervisor'],
      ['clerk.wang', 'clerk'],
    ],
    edit: (raw) => {
      (raw as Record<string, unknown>).notices = {
        email: { host: '127.0.0.1', port: smtp.port, from: 'energy-center@example.edu' },
        webhook: { url: hook.url, secretFile: join(dir, 'hook.key') },
      };
    },
  });
  const clerk = user('clerk.wang', 'clerk');
  desk.bo.prepaid.openAccount(clerk, {
    ...{ id: 'ROOM-E1-101', customerType: 'student-room', holder: 'Li Ming' },
    meters: ['E-E1-101'],
  });
  desk.bo.prepaid.verifyTariffType(user('sup.li', 'supervisor'), 'ROOM-E1-101');
  desk.bo.customers.logins.issueCode(clerk, {
    ...{ account: 'ROOM-E1-101', username: 'liming', email: 'li.ming@students.example.edu' },
    language: 'zh',
  });
}, 120_000);

afterAll(async () => {
  await desk?.close();
  await smtp?.close();
  await hook?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('outage notices from the back office', () => {
  it('an approval over HTTP mails the affected customer and posts per account; a cancellation withdraws it', async () => {
    const o = desk.bo.desk.outages.plan(user('op.zhao', 'operator'), {
      ...{ utility: 'electricity', node: 'E-E1-MAIN', reason: '母线更换' },
      ...{ startsAt: T0 + 48 * 3_600_000, endsAt: T0 + 52 * 3_600_000 },
    });
    expect(o.affected.accounts).toContain('ROOM-E1-101');
    const sup = await desk.openAs('sup.li', 'zh', '#/outages', 'outages');
    // As the page's own script would: same origin, the session cookie.
    const headers = { origin: desk.bo.url! };
    const res = await sup.request.post(`${desk.bo.url!}/api/outages/${o.id}/approve`, { data: {}, headers });
    expect(res.status()).toBe(200);
    await waitFor('the mail', () => smtp.mails.length === 1);
    await waitFor('the posts', () => hook.posts.length === o.affected.accounts.length);
    const mail = smtp.mails[0]!;
    expect(mail.to).toEqual(['li.ming@students.example.edu']);
    expect(mail.subject).toBe('停电通知：Dorm E1 main 2026-12-03 08:00 至 2026-12-03 12:00');
    const id = header(mail.raw, 'X-Campus-Notice');
    const room = hook.posts.map((p) => JSON.parse(p.body) as { account: string; id: number; kind: string });
    expect(room.find((b) => b.account === 'ROOM-E1-101')).toMatchObject({ kind: 'outage-ahead' });

    // The desk sees who was told, addresses masked.
    const report = (await (await sup.request.get(`${desk.bo.url!}/api/outages/${o.id}/notices`)).json()) as {
      counts: Record<string, Record<string, number>>;
      deliveries: { channel: string; recipient: string; account: string; status: string }[];
    };
    expect(report.counts).toEqual({ 'outage-ahead': { sent: 1 + o.affected.accounts.length } });
    expect(report.deliveries.find((x) => x.channel === 'email')).toMatchObject({
      recipient: 'l***@students.example.edu',
      account: 'ROOM-E1-101',
      status: 'sent',
    });

    const cancel = await sup.request.post(`${desk.bo.url!}/api/outages/${o.id}/cancel`, {
      data: { note: '施工单位改期' },
      headers,
    });
    expect(cancel.status()).toBe(200);
    await waitFor('the withdrawal', () => smtp.mails.length === 2);
    expect(smtp.mails[1]!.subject).toMatch(/^取消停电：Dorm E1 main/);
    expect(header(smtp.mails[1]!.raw, 'X-Campus-Notice')).not.toBe(id);
    await waitFor('the withdrawn posts', () => hook.posts.length === 2 * o.affected.accounts.length);
    await sup.context().close();
  });
});
