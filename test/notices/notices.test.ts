import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { createPolicyLoop, type PolicyLoop } from '../../services/backoffice/policy-loop.ts';
import { commandAckTopic } from '../../services/operations/control/commands.ts';
import { Prepaid } from '../../services/money/prepaid/prepaid.ts';
import { verifySignature } from '../../services/money/payments/signing.ts';
import { CustomerLogins } from '../../services/money/selfservice/logins.ts';
import {
  emailNotifier,
  mqttNotifier,
  Notices,
  webhookNotifier,
  type Notifier,
} from '../../services/money/notices/index.ts';
import { controlFixture, signedAck } from '../control/support.ts';
import { testLogger } from '../helpers/logger.ts';
import { clerk, supervisor, tariffs } from '../prepaid/support.ts';
import { startSmtp, startWebhook } from './support.ts';

/**
 * Issue 13 item 5: the real prepaid policy loop and relay control raise low-balance alarms (two
 * levels), a cut-off and a restore; the notices service tells the account's customers by email
 * (a real SMTP server), the campus platform's webhook (signed) and MQTT (an embedded broker), and
 * records every notice and delivery. A channel that refuses is retried, then recorded as failed,
 * and the others are not held up; a restart says nothing twice.
 */

let smtp: Awaited<ReturnType<typeof startSmtp>>;
let hook: Awaited<ReturnType<typeof startWebhook>>;
let broker: EmbeddedBroker;
let client: mqtt.MqttClient;
let mqttMessages: { topic: string; body: Record<string, unknown> }[];
let loop: PolicyLoop;
let notices: Notices;
const hookKey = randomBytes(32);
let f: ReturnType<typeof controlFixture>;
let prepaid: Prepaid;
let store: SqliteStore;

function startNotices(retries = 3) {
  const logins = new CustomerLogins({
    db: f.db,
    audit: f.audit,
    prepaid,
    clock: () => f.now.t,
    codeTtlMs: 1e6,
    sessionIdleMs: 1e6,
    sessionMaxMs: 1e6,
  });
  const notifiers: Notifier[] = [
    emailNotifier({
      host: '127.0.0.1',
      port: smtp.port,
      secure: false,
      ignoreTls: true,
      from: 'energy-center@example.edu',
    }),
    webhookNotifier({ url: hook.url, key: hookKey }),
    mqttNotifier({
      topic: 'campus/notices',
      publish: async (t, p) => void (await client.publishAsync(t, p, { qos: 1 })),
    }),
  ];
  return {
    logins,
    notices: new Notices({
      ...{
        db: f.db,
        audit: f.audit,
        notifiers,
        timezone: tariffs.timezone,
        clock: () => f.now.t,
        retries,
        retryBaseMs: 1,
      },
      contacts: (account) => logins.contactsOf(account),
    }),
  };
}

beforeEach(async () => {
  smtp = await startSmtp();
  hook = await startWebhook();
  broker = await startEmbeddedBroker();
  client = await mqtt.connectAsync(broker.url);
  mqttMessages = [];
  await client.subscribeAsync('campus/notices/#', { qos: 1 });
  client.on('message', (topic, payload) =>
    mqttMessages.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> }),
  );
  f = controlFixture();
  f.now.t = Date.UTC(2025, 10, 27, 2); // 10:00 on a Thursday in Shanghai: not friendly hours
  prepaid = new Prepaid({ db: f.db, audit: f.audit, tariffs, clock: () => f.now.t });
  store = SqliteStore.open({ path: ':memory:' });
  loop = createPolicyLoop({
    ...{ prepaid, control: f.control, audit: f.audit, store, logger: testLogger() },
    ...{ timezone: tariffs.timezone, hasRelay: () => true, clock: () => f.now.t, intervalMs: 3_600_000 },
  });
  prepaid.openAccount(clerk, {
    id: 'R1',
    customerType: 'student-room',
    holder: 'Room R1 (invented)',
    meters: ['E-101'],
  });
  prepaid.verifyTariffType(supervisor, 'R1');
  f.control.grantPolicyApproval(supervisor, {
    scope: { actions: ['open', 'close'], sites: ['east'] },
    reason: 'test campus',
  });
});
afterEach(async () => {
  await loop.stop();
  await notices.close();
  await client.endAsync();
  await broker.close();
  await smtp.close();
  await hook.close();
  await store.close();
});

/** The gateway carries out the last command sent and acks it, signed. */
function ackLast(observed: 'open' | 'closed') {
  const cmd = f.sent.at(-1)!;
  const outcome = f.control.handleAck(
    commandAckTopic('east', 'gw1', 'E-101'),
    signedAck({ id: cmd.id, meter: 'E-101', action: cmd.action, ok: true, observed }),
  );
  expect(outcome).toMatchObject({ kind: 'recorded' });
}

async function pass() {
  await loop.runOnce();
  await notices.kick();
}

describe('notices to customers', () => {
  it('low balance twice, cut-off ahead and restored reach email, webhook and MQTT, each recorded once', async () => {
    const s = startNotices();
    notices = s.notices;
    s.logins.issueCode(clerk, {
      account: 'R1',
      username: 'stu.zhang',
      email: 'zhang@example.edu',
      language: 'zh',
    });
    s.logins.issueCode(clerk, {
      account: 'R1',
      username: 'stu.smith',
      email: 'smith@example.edu',
      language: 'en',
    });
    prepaid.topUp(clerk, { account: 'R1', amountFen: 1500, method: 'cash', reference: 'N-1' });
    await pass(); // 15.00 ≤ 20.00: level 1
    prepaid.correct(supervisor, { account: 'R1', amountFen: -1100, reason: 'test: use' });
    await pass(); // 4.00 ≤ 5.00: level 2
    prepaid.correct(supervisor, { account: 'R1', amountFen: -500, reason: 'test: use' });
    await pass(); // -1.00: the cut-off is asked for (and sent under the standing approval)
    ackLast('open');
    await pass(); // nothing new: the cut-off is not announced twice
    prepaid.topUp(clerk, { account: 'R1', amountFen: 5000, method: 'cash', reference: 'N-2' });
    await pass(); // a restore is asked for and sent
    ackLast('closed');
    await notices.kick(); // the ack is what says "restored"
    await new Promise((r) => setTimeout(r, 200)); // MQTT delivery to the subscriber

    const events = notices.list('R1').reverse();
    expect(events.map((e) => [e.kind, e.level])).toEqual([
      ['low-balance', 1],
      ['low-balance', 2],
      ['cutoff-ahead', null],
      ['restored', null],
    ]);
    for (const e of events) {
      expect(e.deliveries.map((d) => [d.channel, d.recipient, d.status]).sort()).toEqual([
        ['email', 'smith@example.edu', 'sent'],
        ['email', 'zhang@example.edu', 'sent'],
        ['mqtt', 'R1', 'sent'],
        ['webhook', 'R1', 'sent'],
      ]);
    }
    // Email: through a real SMTP exchange, each customer in their language.
    expect(smtp.mails).toHaveLength(8);
    const toZhang = smtp.mails.filter((m) => m.to.includes('zhang@example.edu')).map((m) => m.subject);
    expect(toZhang).toEqual([
      '电费余额偏低：R1',
      '【紧急】电费余额不足：R1',
      '断电预告：R1',
      '已恢复供电：R1',
    ]);
    const toSmith = smtp.mails.filter((m) => m.to.includes('smith@example.edu')).map((m) => m.subject);
    expect(toSmith).toEqual([
      'Low electricity balance, R1',
      'Urgent: low electricity balance, R1',
      'Supply cut ahead, R1',
      'Supply restored, R1',
    ]);
    // Webhook: signed, machine-readable, in order.
    expect(hook.posts.map((p) => verifySignature(hookKey, p.headers, p.body).ok)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    const bodies = hook.posts.map(
      (p) => JSON.parse(p.body) as { kind: string; balanceFen: number; account: string },
    );
    expect(bodies.map((b) => [b.kind, b.balanceFen])).toEqual([
      ['low-balance', 1500],
      ['low-balance', 400],
      ['cutoff-ahead', -100],
      ['restored', 4900],
    ]);
    expect(mqttMessages.map((m) => [m.topic, m.body.kind])).toEqual([
      ['campus/notices/R1', 'low-balance'],
      ['campus/notices/R1', 'low-balance'],
      ['campus/notices/R1', 'cutoff-ahead'],
      ['campus/notices/R1', 'restored'],
    ]);

    // A restart reads on from its cursor: nothing is said again.
    await notices.close();
    notices = startNotices().notices;
    expect(notices.record()).toBe(0);
    await notices.kick();
    expect(smtp.mails).toHaveLength(8);
    expect(hook.posts).toHaveLength(4);
  });

  it('a channel that refuses is retried, then recorded as failed with its error; the others go out', async () => {
    const s = startNotices(2);
    notices = s.notices;
    s.logins.issueCode(clerk, { account: 'R1', username: 'stu.zhang', email: 'zhang@example.edu' });
    smtp.refuse.rcpt = true;
    hook.status.code = 503;
    prepaid.topUp(clerk, { account: 'R1', amountFen: 1500, method: 'cash', reference: 'N-1' });
    await pass();
    for (let i = 0; i < 3; i++) {
      f.now.t += 60_000; // past each retry's wait
      await notices.kick();
    }
    const [event] = notices.list('R1');
    const byChannel = Object.fromEntries(event!.deliveries.map((d) => [d.channel, d]));
    expect(byChannel.email).toMatchObject({
      status: 'failed',
      attempts: 3,
      lastError: expect.stringMatching(/550/),
    });
    expect(byChannel.webhook).toMatchObject({
      status: 'failed',
      attempts: 3,
      lastError: 'webhook ' + hook.url + ' answered 503',
    });
    expect(byChannel.mqtt).toMatchObject({ status: 'sent', attempts: 1 });
    expect(hook.posts).toHaveLength(3);
    expect(smtp.mails).toHaveLength(0);
  });

  it('a round that fails (a contact lookup throws) is reported, and the next one records what it missed', async () => {
    const errors: unknown[] = [];
    let broken = true;
    const logins = new CustomerLogins({
      db: f.db,
      audit: f.audit,
      prepaid,
      codeTtlMs: 1e6,
      sessionIdleMs: 1e6,
      sessionMaxMs: 1e6,
    });
    notices = new Notices({
      ...{ db: f.db, audit: f.audit, timezone: tariffs.timezone, clock: () => f.now.t },
      notifiers: [
        emailNotifier({
          host: '127.0.0.1',
          port: smtp.port,
          secure: false,
          ignoreTls: true,
          from: 'energy-center@example.edu',
        }),
        webhookNotifier({ url: hook.url, key: hookKey }),
      ],
      contacts: (account) => {
        if (broken) throw new Error('contacts unavailable');
        return logins.contactsOf(account);
      },
      onError: (err) => errors.push(err),
    });
    prepaid.topUp(clerk, { account: 'R1', amountFen: 1500, method: 'cash', reference: 'N-1' });
    await expect(pass()).rejects.toThrow('contacts unavailable');
    expect(notices.list('R1')).toEqual([]);
    expect(errors.length).toBeGreaterThan(0); // the round the audit entry itself started
    broken = false;
    await notices.kick();
    expect(notices.list('R1').map((e) => e.kind)).toEqual(['low-balance']);
    expect(hook.posts).toHaveLength(1);
  });

  it('an account with no e-mail address still gets its webhook and MQTT notices, and the event is recorded', async () => {
    notices = startNotices().notices;
    prepaid.topUp(clerk, { account: 'R1', amountFen: 300, method: 'cash', reference: 'N-1' });
    await pass();
    const [event] = notices.list('R1');
    // 3.00 is below both levels: the loop says the urgent one.
    expect(event).toMatchObject({ kind: 'low-balance', level: 2 });
    expect(event!.deliveries.map((d) => d.channel).sort()).toEqual(['mqtt', 'webhook']);
  });
});
