import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { validateCampus } from '../../config/campus.ts';
import { startGateway, type RunningGateway } from '../../gateway/gateway.ts';
import { silentLogger } from '../../gateway/log.ts';
import { commandTopic, signCommand } from '../../services/operations/control/commands.ts';
import type { Cjt188SimMeter } from '../../simulators/cjt188/meter.ts';
import { startFieldLines, type FieldLines } from '../../simulators/dlt645/farm-lines.ts';
import type { Dlt645SimMeter } from '../../simulators/dlt645/meter.ts';

/**
 * Relay and valve control of DL/T 645 and CJ/T 188 meters through the same signed command path
 * as Modbus relays: a signed command over MQTT, the gateway's handler, the protocol's write
 * between two polls, the read-back, the ack. A wrong password is a refusal, never a success.
 */
const SITE = 'test';
const GW = 'gw1';

interface Ack {
  ok: boolean;
  armed?: true;
  observed: 'open' | 'closed' | null;
  error?: string;
  message?: string;
}

describe('DL/T 645 relay and CJ/T 188 valve through signed commands', () => {
  const dir = mkdtempSync(join(tmpdir(), 'campus-dlt645-relay-'));
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const keyFile = join(dir, 'control.pub.pem');
  let broker: EmbeddedBroker;
  let lines: FieldLines;
  let gw: RunningGateway;
  let client: mqtt.MqttClient;
  const acks = new Map<string, Ack>();

  beforeAll(async () => {
    writeFileSync(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
    const campus = validateCampus(
      {
        campus: { name: 'relay test' },
        dataDir: dir,
        sites: [{ id: SITE, gateways: [{ id: GW, buses: [] }] }],
        profileDirs: [],
      },
      { file: '(relay test)', dir },
    );
    lines = await startFieldLines(
      [
        {
          id: 'dorm',
          protocol: 'dlt645',
          meters: [
            {
              id: 'R1',
              address: '000000000101',
              profile: campus.fieldProfiles.get('dlt645-single-phase-prepaid')!,
              load: 'dorm-room',
              seed: 1,
              password: '02123456',
            },
            // A meter whose password was changed on site: the bus's password is wrong for it.
            {
              id: 'R2',
              address: '000000000102',
              profile: campus.fieldProfiles.get('dlt645-single-phase-prepaid')!,
              load: 'dorm-room',
              seed: 2,
              password: '02654321',
            },
          ],
        },
        {
          id: 'water',
          protocol: 'cjt188',
          meters: [
            {
              id: 'W1',
              address: '00000000000201',
              profile: campus.fieldProfiles.get('cjt188-cold-water-valve')!,
              load: 'office',
              seed: 3,
            },
          ],
        },
      ],
      {},
    );
    const [dorm, water] = lines.lines;
    process.env.TEST_DLT645_PASSWORD = '02123456';
    const withBuses = validateCampus(
      {
        campus: { name: 'relay test' },
        dataDir: dir,
        sites: [
          {
            id: SITE,
            gateways: [
              {
                id: GW,
                buses: [
                  {
                    id: 'dorm',
                    type: 'rtu-over-tcp',
                    protocol: 'dlt645',
                    host: dorm!.host,
                    port: dorm!.port,
                    timeout: '500ms',
                    control: { passwordEnv: 'TEST_DLT645_PASSWORD', operator: '00000042' },
                    meters: [
                      {
                        id: 'R1',
                        kind: 'electricity',
                        profile: 'dlt645-single-phase-prepaid',
                        unitId: 1,
                        address: '000000000101',
                        pollInterval: '2s',
                      },
                      {
                        id: 'R2',
                        kind: 'electricity',
                        profile: 'dlt645-single-phase-prepaid',
                        unitId: 2,
                        address: '000000000102',
                        pollInterval: '2s',
                      },
                    ],
                  },
                  {
                    id: 'water',
                    type: 'rtu-over-tcp',
                    protocol: 'cjt188',
                    host: water!.host,
                    port: water!.port,
                    timeout: '500ms',
                    meters: [
                      {
                        id: 'W1',
                        kind: 'water',
                        profile: 'cjt188-cold-water-valve',
                        unitId: 1,
                        address: '00000000000201',
                        pollInterval: '2s',
                      },
                    ],
                  },
                ],
              },
            ],
          },
        ],
      },
      { file: '(relay test)', dir },
    );
    broker = await startEmbeddedBroker({ port: 0 });
    gw = await startGateway({
      campus: withBuses,
      gatewayId: GW,
      mqtt: { url: broker.url },
      logger: silentLogger(),
      commandPublicKeyFile: keyFile,
    });
    client = await mqtt.connectAsync(broker.url, { clientId: `relay-test-${process.pid}` });
    client.on('message', (_topic, payload) => {
      const ack = JSON.parse(payload.toString()) as Ack & { id: string };
      if (ack.error !== 'REPLAYED') acks.set(ack.id, ack); // a resend of a command already received
    });
    await client.subscribeAsync(`campus/v1/${SITE}/${GW}/+/cmd/ack`, { qos: 1 });
  }, 30_000);

  afterAll(async () => {
    await client?.endAsync();
    await gw?.stop();
    await broker?.close();
    await lines?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function command(meter: string, action: 'open' | 'close'): Promise<Ack> {
    const now = Date.now();
    const body = {
      id: randomUUID(),
      meter,
      site: SITE,
      gateway: GW,
      action,
      issuedAt: now,
      expiresAt: now + 60_000,
      requestId: 1,
    };
    const signed = JSON.stringify(signCommand(body, privateKey));
    // Until the gateway's command subscription is up a command reaches nobody: send again until acked.
    for (let attempt = 0; !acks.has(body.id); attempt++) {
      if (attempt === 20) throw new Error(`no ack for ${action} ${meter}`);
      await client.publishAsync(commandTopic(SITE, GW, meter), signed, { qos: 1 });
      for (let i = 0; i < 25 && !acks.has(body.id); i++) await new Promise((r) => setTimeout(r, 20));
    }
    return acks.get(body.id)!;
  }

  it('trips a dorm meter and reads status word 3 back before acking', async () => {
    const ack = await command('R1', 'open');
    expect(ack).toMatchObject({ ok: true, observed: 'open' });
    expect((lines.meters.get('R1') as Dlt645SimMeter).relayClosed).toBe(false);
  });

  it('restores by "allow closing": acked armed (neither closed nor a mismatch) until the student presses the button', async () => {
    const r1 = lines.meters.get('R1') as Dlt645SimMeter;
    const ack = await command('R1', 'close');
    expect(ack).toMatchObject({ ok: false, armed: true, observed: 'open' });
    expect(ack.error).toBeUndefined();
    expect(ack.message).toMatch(/presses the meter’s button/);
    expect(r1.relayClosed).toBe(false);
    r1.pressButton();
    expect(r1.relayClosed).toBe(true);
    expect(r1.events.map((e) => e.action)).toEqual(['trip', 'allowClosing']);
  });

  it('a wrong password is refused with the meter’s DLT645_DENIED, and the relay does not move', async () => {
    const ack = await command('R2', 'open');
    expect(ack.ok).toBe(false);
    expect(ack.error).toBe('RELAY_WRITE_FAILED');
    expect(ack.message).toMatch(/DLT645_DENIED .*wrong password/);
    expect((lines.meters.get('R2') as Dlt645SimMeter).relayClosed).toBe(true);
  });

  it('closes and opens a water valve, reading the valve status back', async () => {
    const w1 = lines.meters.get('W1') as Cjt188SimMeter;
    expect(await command('W1', 'open')).toMatchObject({ ok: true, observed: 'open' });
    expect(w1.valveOpen).toBe(false);
    expect(await command('W1', 'close')).toMatchObject({ ok: true, observed: 'closed' });
    expect(w1.valveOpen).toBe(true);
  });
});
