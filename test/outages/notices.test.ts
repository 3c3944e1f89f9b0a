import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OutagesSettingsSchema } from '../../config/schemas/operations-desk.ts';
import { emailNotifier } from '../../services/money/notices/email.ts';
import { webhookNotifier } from '../../services/money/notices/webhook.ts';
import { verifySignature } from '../../services/money/payments/signing.ts';
import { openAuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import {
  OUTAGE_NOTICE_ID_BASE,
  OutageNotices,
  type OutageChannel,
  type OutageContact,
} from '../../services/operations/outages/outage-notices.ts';
import { PlannedOutages } from '../../services/operations/outages/outages.ts';
import { header, startSmtp, startWebhook } from '../notices/support.ts';
import { HOUR, T0, operator, setup, supervisor } from './support.ts';

/**
 * An approved outage's notice goes to every affected account with a contact, by email (a real
 * SMTP server on loopback, smtp-server) and by the campus platform's webhook (a real HTTP server),
 * ahead of the window and once: a restart over the same database sends nothing again, a crash
 * between the approval and the notices sends them at the next start, and a cancellation withdraws
 * what was said (nothing, if nothing was said yet).
 */

const KEY = Buffer.alloc(32, 7);
let smtp: Awaited<ReturnType<typeof startSmtp>>;
let hook: Awaited<ReturnType<typeof startWebhook>>;

beforeAll(async () => {
  smtp = await startSmtp();
  hook = await startWebhook();
});
afterAll(async () => {
  await smtp.close();
  await hook.close();
});
beforeEach(() => {
  smtp.mails.length = 0;
  hook.posts.length = 0;
  smtp.refuse.rcpt = false;
  hook.status.code = 200;
});

/** Contacts: E1-101's prepaid account has a Chinese and an English reader; E1-102 one without email. */
const CONTACTS: Record<string, OutageContact[]> = {
  'PRE-E1-101': [
    { email: 'li.ming@students.example.edu', language: 'zh' },
    { email: 'anna@students.example.edu', language: 'en' },
  ],
  'E-E1-102': [{ email: null, language: 'zh' }],
};

type Setup = ReturnType<typeof setup>;
const channels = (s: Setup): OutageChannel[] => [
  emailNotifier({
    host: '127.0.0.1',
    port: smtp.port,
    secure: false,
    ignoreTls: true,
    from: 'energy@example.edu',
  }),
  webhookNotifier({ url: hook.url, key: KEY, clock: s.clock }),
];
const noticesFor = (s: Setup, outages = s.outages) =>
  new OutageNotices({
    ...{ db: s.db, outages, channels: channels(s), timezone: 'Asia/Shanghai', clock: s.clock },
    contacts: (a) => CONTACTS[a] ?? [],
    retryBaseMs: 1_000,
  });

/** The same back office started again over the same files: new database handle, services and channels. */
function restart(s: Setup): Setup {
  s.db.close();
  const db = openBackofficeDb(join(s.dir, 'backoffice.db'));
  const audit = openAuditLog(db, s.clock, join(s.dir, 'audit-key.json'));
  const outages = new PlannedOutages({
    ...{ db, audit, clock: s.clock, tree: s.tree },
    settings: OutagesSettingsSchema.parse({}),
    accounts: () => new Map([['E-E1-101', ['PRE-E1-101']]]),
  });
  return { ...s, db, audit, outages };
}

function planAndApprove(s: Setup) {
  const o = s.outages.plan(operator, {
    ...{ utility: 'electricity', node: 'E-E1-MAIN', reason: 'Busbar replacement' },
    ...{ startsAt: T0 + 48 * HOUR, endsAt: T0 + 52 * HOUR },
  });
  return s.outages.approve(supervisor, o.id);
}

const webhookBodies = () => hook.posts.map((p) => JSON.parse(p.body) as Record<string, unknown>);

let open: Setup | undefined;
afterEach(() => {
  open?.db.close();
  open = undefined;
});

describe('outage notices through the notifier', () => {
  it('an approval tells every affected account with a contact, by email in its language and by webhook, once', async () => {
    const s = (open = setup());
    const o = planAndApprove(s);
    const accounts = o.affected.accounts;
    expect(accounts).toContain('PRE-E1-101');
    const notices = noticesFor(s);
    await notices.kick();

    // Email: the two readers of PRE-E1-101 (nobody else has an address), each in their language.
    expect(smtp.mails.map((m) => m.to[0]).sort()).toEqual([
      'anna@students.example.edu',
      'li.ming@students.example.edu',
    ]);
    const zh = smtp.mails.find((m) => m.to[0] === 'li.ming@students.example.edu')!;
    const place = o.affected.buildings[0]!.name;
    expect(zh.subject).toBe(`停电通知：${place} 2026-12-03 08:00 至 2026-12-03 12:00`);
    const en = smtp.mails.find((m) => m.to[0] === 'anna@students.example.edu')!;
    expect(en.subject).toBe(`Planned power outage: ${place}, 2026-12-03 08:00 to 2026-12-03 12:00`);
    expect(Number(header(en.raw, 'X-Campus-Notice'))).toBeGreaterThan(OUTAGE_NOTICE_ID_BASE);

    // Webhook: one signed post per affected account, with the window in UTC ms.
    const bodies = webhookBodies();
    expect(bodies.map((b) => b.account).sort()).toEqual([...accounts].sort());
    for (const [i, b] of bodies.entries()) {
      expect(b).toMatchObject({ kind: 'outage-ahead', outage: o.id, startsAt: o.startsAt, endsAt: o.endsAt });
      expect(b.id as number).toBeGreaterThan(OUTAGE_NOTICE_ID_BASE);
      const p = hook.posts[i]!;
      expect(verifySignature(KEY, p.headers, p.body).ok).toBe(true);
    }
    expect(notices.deliveries(o.id).every((d) => d.status === 'sent')).toBe(true);

    // A second round, and a restart over the same database: nothing more is sent.
    await notices.kick();
    await notices.close();
    const again = restart(s);
    open = again;
    const n2 = noticesFor(again);
    await n2.kick();
    expect(smtp.mails).toHaveLength(2);
    expect(hook.posts).toHaveLength(accounts.length);
    await n2.close();
  });

  it('a crash between the approval and its notices: the next start sends them, once', async () => {
    const s = (open = setup());
    // The process dies right after the approval's commit: no notices object ever ran.
    const o = planAndApprove(s);
    const after = restart(s);
    open = after;
    const notices = noticesFor(after);
    await notices.kick();
    expect(smtp.mails).toHaveLength(2);
    expect(hook.posts).toHaveLength(o.affected.accounts.length);
    await notices.close();
  });

  it('a cancellation withdraws the notice from everyone who was told, once; before anything went out, nobody hears of it', async () => {
    const s = (open = setup());
    const o = planAndApprove(s);
    const notices = noticesFor(s);
    await notices.kick();
    s.outages.cancel(supervisor, o.id, 'Contractor unavailable');
    await notices.kick();
    await notices.kick();
    const withdrawn = smtp.mails.slice(2);
    expect(withdrawn.map((m) => m.to[0]).sort()).toEqual([
      'anna@students.example.edu',
      'li.ming@students.example.edu',
    ]);
    expect(withdrawn.find((m) => m.to[0] === 'anna@students.example.edu')!.subject).toMatch(
      /^Cancelled: planned power outage/,
    );
    expect(withdrawn.find((m) => m.to[0] === 'li.ming@students.example.edu')!.subject).toMatch(/^取消停电：/);
    expect(webhookBodies().filter((b) => b.kind === 'outage-withdrawn')).toHaveLength(
      o.affected.accounts.length,
    );

    // Another outage, cancelled before the notices ran (e.g. its channel was down): nothing at all.
    const p = s.outages.plan(operator, {
      ...{ utility: 'electricity', node: 'E-E2-MAIN', reason: 'Meter swap' },
      ...{ startsAt: T0 + 72 * HOUR, endsAt: T0 + 74 * HOUR },
    });
    s.outages.approve(supervisor, p.id);
    s.outages.cancel(supervisor, p.id, 'Not needed');
    const before = { mails: smtp.mails.length, posts: hook.posts.length };
    await notices.kick();
    expect({ mails: smtp.mails.length, posts: hook.posts.length }).toEqual(before);
    await notices.close();
  });

  it('a refused delivery is retried, and one still unsent when the window starts is recorded late, not sent', async () => {
    const s = (open = setup());
    hook.status.code = 503;
    const o = planAndApprove(s);
    const notices = noticesFor(s);
    await notices.kick();
    const refused = notices.deliveries(o.id).filter((d) => d.channel === 'webhook');
    expect(refused.every((d) => d.status === 'pending' && d.attempts === 1)).toBe(true);
    expect(refused[0]!.lastError).toContain('503');
    // The platform is back: the retry goes out.
    hook.status.code = 200;
    s.time.now += 2_000;
    await notices.kick();
    expect(notices.deliveries(o.id).every((d) => d.status === 'sent')).toBe(true);

    // An outage whose notices could not go out before its start.
    smtp.refuse.rcpt = true;
    hook.status.code = 503;
    const p = s.outages.plan(operator, {
      ...{ utility: 'electricity', node: 'E-E2-MAIN', reason: 'Meter swap' },
      ...{ startsAt: s.time.now + 30 * HOUR, endsAt: s.time.now + 32 * HOUR },
    });
    s.outages.approve(supervisor, p.id);
    await notices.kick();
    smtp.refuse.rcpt = false;
    hook.status.code = 200;
    const sent = { mails: smtp.mails.length, posts: hook.posts.length };
    s.time.now = p.startsAt + 1;
    await notices.kick();
    expect({ mails: smtp.mails.length, posts: hook.posts.length }).toEqual(sent);
    expect(notices.deliveries(p.id).map((d) => d.status)).toEqual(notices.deliveries(p.id).map(() => 'late'));
    await notices.close();
  });
});
