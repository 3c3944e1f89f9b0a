import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { startPublisher, type Publisher } from '../../adapters/mqtt/publisher.ts';
import { openModbusTransport } from '../../adapters/modbus/client.ts';
import { loadProfiles } from '../../config/profiles.ts';
import { BusSchema, type MeterConfig } from '../../config/schemas/campus.ts';
import { BusPoller } from '../../gateway/bus-poller.ts';
import {
  commandMetersOf,
  openSeenStore,
  startCommandHandler,
  type CommandHandler,
  type SeenStore,
} from '../../gateway/commands.ts';
import { Outbox } from '../../gateway/outbox/outbox.ts';
import type { PollResult } from '../../gateway/types.ts';
import {
  commandTopic,
  signCommand,
  type SignedRelayCommand,
} from '../../services/operations/control/commands.ts';
import { connectControlMqtt, type ControlMqtt } from '../../services/operations/control/mqtt.ts';
import { startFarm, type Farm } from '../../simulators/farm.ts';
import { testLogger } from '../helpers/logger.ts';
import { controlFixture, gatewayKeys, people, type ControlFixture } from './support.ts';
import { waitForValue as waitFor } from '../helpers/wait-for.ts';

/**
 * The whole path on loopback: relay request → approval by another person → signed command over
 * a real MQTT broker → the gateway's handler → FC16 write through the bus scheduler to a
 * simulated DDS238-2 → read-back → ack → audit. Then what must not move the relay.
 */

const SITE = 'test';
const GW = 'gw1';

describe('relay control end to end', () => {
  let broker: EmbeddedBroker;
  let farm: Farm;
  let poller: BusPoller;
  let outbox: Outbox;
  let publisher: Publisher;
  let seenPath: string;
  let seen: SeenStore;
  let handler: CommandHandler;
  let link: ControlMqtt;
  let fx: ControlFixture;
  let attacker: MqttClient;
  const results: { meter: string; result: PollResult }[] = [];
  const logger = testLogger();

  function startHandler(): CommandHandler {
    return startCommandHandler({
      subscribe: (filter, onMessage) => publisher.subscribe(filter, onMessage),
      publish: (topic, payload) => publisher.publish(topic, payload),
      site: SITE,
      gateway: GW,
      meters: commandMetersOf([poller]),
      publicKey: fx.keys.publicKey,
      ackKey: gatewayKeys.gw1.privateKey,
      logger,
      seenStore: seen,
    });
  }

  /** The next poll result of E-1 taken after now. */
  async function nextPoll(): Promise<Extract<PollResult, { values: unknown }>> {
    const from = results.length;
    const r = await waitFor('a poll of E-1', () =>
      results.slice(from).find((x) => x.meter === 'E-1' && 'values' in x.result),
    );
    return r.result as Extract<PollResult, { values: unknown }>;
  }

  async function publishRaw(meter: string, payload: string): Promise<void> {
    await attacker.publishAsync(commandTopic(SITE, GW, meter), payload, { qos: 1 });
  }

  beforeAll(async () => {
    const profiles = loadProfiles();
    broker = await startEmbeddedBroker();
    farm = await startFarm({
      concentrators: [
        {
          id: 'c1',
          transport: 'modbus-tcp',
          port: 0,
          meters: [
            { id: 'E-1', unitId: 1, profile: profiles.get('hiking-dds238-2')!, load: 'business', seed: 7 },
            { id: 'E-2', unitId: 2, profile: profiles.get('eastron-sdm120')!, load: 'office', seed: 8 },
          ],
        },
      ],
    });
    const c = farm.concentrators[0]!;
    const bus = BusSchema.parse({
      id: 'bus1',
      type: 'modbus-tcp',
      host: c.host,
      port: c.port,
      timeout: 500,
      meters: [
        { id: 'E-1', kind: 'electricity', profile: 'hiking-dds238-2', unitId: 1, pollInterval: 150 },
        { id: 'E-2', kind: 'electricity', profile: 'eastron-sdm120', unitId: 2, pollInterval: 150 },
      ],
    });
    poller = new BusPoller({
      bus,
      profiles,
      openTransport: () => openModbusTransport(bus, bus.id),
      onResult: (meter: MeterConfig, result: PollResult) => results.push({ meter: meter.id, result }),
      logger,
    });
    poller.start();

    outbox = Outbox.open({ path: ':memory:', maxBytes: 1 << 20 });
    publisher = startPublisher({
      url: broker.url,
      clientId: `gw-${GW}`,
      outbox,
      statusTopic: `campus/v1/${SITE}/${GW}/status`,
      willPayload: 'offline',
      logger,
    });
    seenPath = join(mkdtempSync(join(tmpdir(), 'relay-seen-')), 'commands.sqlite');
    seen = openSeenStore(seenPath);
    fx = controlFixture({
      locate: (m) => (m.startsWith('E-') ? { site: SITE, gateway: GW, hasRelay: m === 'E-1' } : undefined),
      send: (cmd) => link.send(cmd),
      realTime: true,
    });
    link = await connectControlMqtt({ url: broker.url, logger });
    link.onAck((topic, payload) => fx.control.handleAck(topic, payload));
    handler = startHandler();
    await handler.ready;
    attacker = await mqtt.connectAsync(broker.url, { clientId: 'attacker' });
  });

  afterAll(async () => {
    await attacker?.endAsync();
    await handler?.stop();
    seen?.close();
    await link?.close();
    await poller?.stop();
    await publisher?.stop();
    outbox?.close();
    await farm?.stop();
    await broker?.close();
  });

  let cut: SignedRelayCommand;

  it('cuts off after approval: the relay opens, power is 0 at the next poll, the ack is audited', async () => {
    const before = await nextPoll();
    expect(before.values.relay_closed).toBe(1);
    expect(before.values.power_kw).toBeGreaterThan(0);

    const req = fx.control.request({
      meter: 'E-1',
      action: 'open',
      reason: 'arrears',
      requestedBy: people.clerk,
    });
    const acked = handler.next();
    await fx.control.approve(people.supervisor, req.id);
    cut = fx.sent[0]!;
    expect((await acked).ack).toMatchObject({ id: cut.id, meter: 'E-1', ok: true, observed: 'open' });
    expect(farm.meter('E-1').relayClosed).toBe(false);
    await waitFor('the ack recorded', () => fx.control.get(req.id).state === 'done');
    expect(fx.control.get(req.id).observed).toBe('open');

    const after = await nextPoll();
    expect(after.values).toMatchObject({ relay_closed: 0, power_kw: 0 });
    expect(fx.audit.query({ subject: `relay-request:${req.id}` }).map((e) => e.action)).toEqual([
      'relay.request',
      'relay.approve',
      'relay.command',
      'relay.sent',
      'relay.ack',
    ]);
  });

  it('restores after approval: the relay closes and power comes back', async () => {
    const req = fx.control.request({
      meter: 'E-1',
      action: 'close',
      reason: 'paid',
      requestedBy: people.operator,
    });
    const acked = handler.next();
    await fx.control.approve(people.supervisor, req.id);
    expect((await acked).ack).toMatchObject({ ok: true, observed: 'closed' });
    expect(farm.meter('E-1').relayClosed).toBe(true);
    await waitFor('the ack recorded', () => fx.control.get(req.id).state === 'done');
    const after = await nextPoll();
    expect(after.values.relay_closed).toBe(1);
    expect(after.values.power_kw).toBeGreaterThan(0);
  });

  it('refuses a forged, an expired and a replayed command without moving the relay, and reports each', async () => {
    const unknownBefore = fx.audit.query({ action: 'relay.ack-unknown' }).length;
    const refusedBefore = fx.audit.query({ action: 'relay.command-refused' }).length;
    const body = {
      id: randomUUID(),
      meter: 'E-1',
      site: SITE,
      gateway: GW,
      action: 'open' as const,
      issuedAt: Date.now(),
      expiresAt: Date.now() + 60_000,
      requestId: 99,
    };
    // Signed with a key of the attacker's own: refused, naming only the id it claimed.
    const forged = signCommand(body, (await import('node:crypto')).generateKeyPairSync('ed25519').privateKey);
    let acked = handler.next();
    await publishRaw('E-1', JSON.stringify(forged));
    expect((await acked).ack).toMatchObject({ refused: true, claimedId: body.id, error: 'BAD_SIGNATURE' });

    // No signature at all.
    acked = handler.next();
    await publishRaw('E-1', JSON.stringify({ ...body, id: randomUUID() }));
    expect((await acked).ack).toMatchObject({ refused: true, error: 'BAD_PAYLOAD' });

    // Properly signed, but expired: the command's own outcome (it did nothing).
    const expired = signCommand(
      { ...body, id: randomUUID(), issuedAt: Date.now() - 600_000, expiresAt: Date.now() - 300_000 },
      fx.keys.privateKey,
    );
    acked = handler.next();
    await publishRaw('E-1', JSON.stringify(expired));
    expect((await acked).ack).toMatchObject({ id: expired.id, ok: false, error: 'EXPIRED' });

    // The real cut-off command from the first test, captured and sent again: a refusal, never a
    // second outcome of the genuine command.
    acked = handler.next();
    await publishRaw('E-1', JSON.stringify(cut));
    expect((await acked).ack).toMatchObject({ refused: true, claimedId: cut.id, error: 'REPLAYED' });

    // Signed for E-1 but sent on E-2's topic.
    const moved = signCommand({ ...body, id: randomUUID() }, fx.keys.privateKey);
    acked = handler.next();
    await publishRaw('E-2', JSON.stringify(moved));
    expect((await acked).ack).toMatchObject({ refused: true, error: 'WRONG_TARGET' });

    expect(farm.meter('E-1').relayClosed).toBe(true);
    expect((await nextPoll()).values.relay_closed).toBe(1);
    await waitFor(
      'the refusals recorded',
      () =>
        fx.audit.query({ action: 'relay.command-refused' }).length === refusedBefore + 4 &&
        fx.audit.query({ action: 'relay.ack-unknown' }).length === unknownBefore + 1,
    );
    const codes = fx.audit
      .query({ action: 'relay.command-refused' })
      .map((e) => (e.after as { error: string }).error);
    expect(codes.slice(refusedBefore)).toEqual(['BAD_SIGNATURE', 'BAD_PAYLOAD', 'REPLAYED', 'WRONG_TARGET']);
    expect(fx.audit.query({ action: 'relay.ack-duplicate' })).toHaveLength(0);
    expect(fx.control.ackStats()).toMatchObject({ refusedByGateway: refusedBefore + 4 });
  });

  it('race: real commands interleaved with replayed copies, forged commands and forged acks; every recorded outcome is the relay state', async () => {
    // The attacker sees every command on the broker and at once replays it three times, sends a
    // forged command of its own and a forged failure ack for the real command's id.
    const spy = await mqtt.connectAsync(broker.url, { clientId: 'attacker-spy' });
    const attackerKey = (await import('node:crypto')).generateKeyPairSync('ed25519').privateKey;
    await spy.subscribeAsync(`campus/v1/${SITE}/${GW}/+/cmd`, { qos: 1 });
    const pending: Promise<unknown>[] = [];
    const send = (topic: string, payload: string | Buffer) =>
      pending.push(spy.publishAsync(topic, payload, { qos: 1 }));
    // Only the control service's own commands, once each: the copies come back to the spy too.
    const seenIds = new Set<string>();
    spy.on('message', (topic, payload) => {
      const cmd = JSON.parse(payload.toString()) as SignedRelayCommand;
      if (typeof cmd.sig !== 'string' || seenIds.has(cmd.id) || !fx.sent.some((c) => c.id === cmd.id)) return;
      seenIds.add(cmd.id);
      const ackTopic = `${topic}/ack`;
      for (let i = 0; i < 3; i++) send(topic, payload);
      const flipped = cmd.action === 'open' ? 'close' : 'open';
      send(topic, JSON.stringify(signCommand({ ...cmd, id: randomUUID(), action: flipped }, attackerKey)));
      const fake = {
        id: cmd.id,
        meter: cmd.meter,
        site: SITE,
        gateway: GW,
        action: cmd.action,
        ok: false,
        observed: null,
        error: 'RELAY_WRITE_FAILED',
        ts: Date.now(),
      };
      send(ackTopic, JSON.stringify(fake));
      send(ackTopic, JSON.stringify({ ...fake, sig: Buffer.alloc(64).toString('base64') }));
    });
    const forgedBefore = fx.control.ackStats().forged;
    try {
      const actions = ['open', 'close', 'open', 'close', 'open', 'close'] as const;
      for (const action of actions) {
        const req = fx.control.request({ meter: 'E-1', action, reason: 'race', requestedBy: people.clerk });
        await fx.control.approve(people.supervisor, req.id);
        const end = await waitFor('an outcome', () => {
          const r = fx.control.get(req.id);
          return ['done', 'failed', 'timed_out'].includes(r.state) ? r : undefined;
        });
        // Give the attacker's messages time to arrive after the genuine ack.
        await new Promise((r) => setTimeout(r, 150));
        const now = fx.control.get(req.id);
        const relay = farm.meter('E-1').relayClosed ? 'closed' : 'open';
        expect(end.state, `request ${req.id} (${action})`).toBe('done');
        expect(now.state).toBe('done');
        expect(now.observed, `request ${req.id} (${action})`).toBe(relay);
        expect(relay).toBe(action === 'open' ? 'open' : 'closed');
      }
      expect(fx.control.ackStats().forged - forgedBefore).toBeGreaterThanOrEqual(actions.length * 2);
    } finally {
      await Promise.allSettled(pending);
      // Let the gateway answer the last copies before the next test listens for its answers.
      let seen = -1;
      while (handler.stats().received !== seen) {
        seen = handler.stats().received;
        await new Promise((r) => setTimeout(r, 300));
      }
      await spy.endAsync();
    }
  });

  it('refuses commands for meters it does not poll or that have no relay', async () => {
    const base = {
      site: SITE,
      gateway: GW,
      action: 'open' as const,
      issuedAt: Date.now(),
      expiresAt: Date.now() + 60_000,
      requestId: 5,
    };
    let acked = handler.next();
    await publishRaw(
      'E-2',
      JSON.stringify(signCommand({ ...base, id: randomUUID(), meter: 'E-2' }, fx.keys.privateKey)),
    );
    expect((await acked).ack).toMatchObject({ ok: false, error: 'NO_RELAY' });
    acked = handler.next();
    await publishRaw(
      'E-9',
      JSON.stringify(signCommand({ ...base, id: randomUUID(), meter: 'E-9' }, fx.keys.privateKey)),
    );
    expect((await acked).ack).toMatchObject({ ok: false, error: 'UNKNOWN_METER' });
    expect(farm.meter('E-1').relayClosed).toBe(true);
  });

  it('still refuses a replay after the gateway restarts', async () => {
    await handler.stop();
    seen.close();
    seen = openSeenStore(seenPath);
    handler = startHandler();
    await handler.ready;
    const acked = handler.next();
    await publishRaw('E-1', JSON.stringify(cut));
    expect((await acked).ack).toMatchObject({ refused: true, claimedId: cut.id, error: 'REPLAYED' });
    expect(farm.meter('E-1').relayClosed).toBe(true);
  });
});
