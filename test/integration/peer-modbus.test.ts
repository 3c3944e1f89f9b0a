import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { subscribeReadings, type ReadingSubscription } from '../../adapters/mqtt/subscriber.ts';
import { validateCampus } from '../../config/campus.ts';
import type { Quantity } from '../../config/schemas/quantities.ts';
import { startGateway, type RunningGateway } from '../../gateway/gateway.ts';
import { silentLogger } from '../../gateway/log.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/readings.ts';
import { socatAvailable, startPtyPair } from '../helpers/socat.ts';

/**
 * The gateway against meters it did not write: pymodbus (Debian's python3-pymodbus) serving an
 * Eastron SDM630, a Chint DTSU666 and a Hiking DDS238-2 as REFERENCE.md's manufacturer tables
 * describe them (test/peers/pymodbus_meters.py, written from those tables, not from our profiles),
 * over Modbus TCP and over RTU on a pseudo-terminal line at 9600 baud. Every reading the gateway
 * publishes must be good and equal, quantity by quantity, to one state the peer server held: the
 * profiles' addresses, function codes, word orders, scales and units are checked against an
 * independent reading of the manuals, and the planner's block reads against a server that is not
 * our simulator.
 *
 * (A DDS238-2 register run through 2^32 counts is published uncertain, DECREASE_…: its profile
 * gives no rolloverAt, since 42.9 GWh is centuries of a 65 A dorm supply, so such a fall is a
 * reset or a fault, not a wrap. Registers that do wrap in service say so in their profile.)
 */

const PYTHON = '/usr/bin/python3';
const SCRIPT = 'test/peers/pymodbus_meters.py';

function pymodbusAvailable(): boolean {
  const ok = spawnSync(PYTHON, ['-c', 'import pymodbus, serial_asyncio']).status === 0;
  if (!ok && process.env.CI) {
    throw new Error('CI must install python3-pymodbus and python3-serial-asyncio (Debian packages)');
  }
  return ok;
}

type Expected = number | { raw: number; scale: number };
interface PeerState {
  state: number;
  units: Record<string, Record<string, Expected>>;
}

/** The peer's names (the manuals') to our quantities, and the unit factor to ours (W → kW). */
const MEANING: Record<string, Record<string, [Quantity, number]>> = {
  '1': {
    V1: ['voltage_v', 1],
    V2: ['voltage_l2_v', 1],
    V3: ['voltage_l3_v', 1],
    I1: ['current_a', 1],
    I2: ['current_l2_a', 1],
    I3: ['current_l3_a', 1],
    P_W: ['power_kw', 0.001],
    PF: ['pf', 1],
    import_kWh: ['energy_import_kwh', 1],
    export_kWh: ['energy_export_kwh', 1],
  },
  '2': {
    import_kWh: ['energy_import_kwh', 1],
    Ua: ['voltage_v', 1],
    Ub: ['voltage_l2_v', 1],
    Uc: ['voltage_l3_v', 1],
    Ia: ['current_a', 1],
    Ib: ['current_l2_a', 1],
    Ic: ['current_l3_a', 1],
    Pt_W: ['power_kw', 0.001],
    PFt: ['pf', 1],
  },
  '3': {
    import_kWh: ['energy_import_kwh', 1],
    V: ['voltage_v', 1],
    I: ['current_a', 1],
    P_W: ['power_kw', 0.001],
    PF: ['pf', 1],
    relay: ['relay_closed', 1],
  },
};
const PROFILES: Record<string, string> = {
  '1': 'eastron-sdm630',
  '2': 'chint-dtsu666',
  '3': 'hiking-dds238-2',
};
const METER = (unit: string) => `P${unit}`;

/** Whether a published value is the peer's: exactly a float32 the registers held, else to 1e-12. */
function same(published: number | undefined, expected: Expected, factor: number): boolean {
  if (published === undefined) return false;
  const value = typeof expected === 'number' ? expected * factor : expected.raw * expected.scale * factor;
  if (typeof expected === 'number' && factor === 1) return Object.is(published, value);
  return Math.abs(published - value) <= 1e-12 * Math.max(1, Math.abs(value));
}

function mismatchesOf(unit: string, values: Partial<Record<Quantity, number>>, state: PeerState): string[] {
  const out: string[] = [];
  for (const [name, [q, factor]] of Object.entries(MEANING[unit]!)) {
    const expected = state.units[unit]![name]!;
    if (!same(values[q], expected, factor)) {
      out.push(`${q}=${values[q]} (peer ${name} ${JSON.stringify(expected)})`);
    }
  }
  return out;
}

describe.skipIf(!pymodbusAvailable())('the gateway against pymodbus meters (a peer implementation)', () => {
  let peer: ChildProcess | undefined;
  let socat: { close(): void } | undefined;
  let broker: EmbeddedBroker | undefined;
  let sub: ReadingSubscription | undefined;
  let gw: RunningGateway | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'campus-peer-'));
  afterEach(async () => {
    await gw?.stop();
    await sub?.close();
    await broker?.close();
    peer?.kill('SIGKILL');
    socat?.close();
    gw = sub = broker = peer = socat = undefined;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Starts the peer with `args`, collecting every state it prints; resolves once it listens. */
  async function startPeer(args: string[]): Promise<PeerState[]> {
    const states: PeerState[] = [];
    let listening = false;
    let err = '';
    peer = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    peer.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    createInterface({ input: peer.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as PeerState | { listening: unknown };
      if ('listening' in msg) listening = true;
      else states.push(msg);
    });
    await waitFor(() => listening, 15_000, `pymodbus listening (${err.slice(-500)})`);
    return states;
  }

  const cases = [
    { name: 'Modbus TCP', transport: 'tcp' as const },
    { name: 'Modbus RTU at 9600 8N1 on a pseudo-terminal line', transport: 'rtu' as const },
  ];
  it.each(cases)(
    '$name: every reading good and equal to a state the peer held',
    async ({ transport }) => {
      let bus: Record<string, unknown>;
      let states: PeerState[];
      if (transport === 'tcp') {
        const port = await freePort();
        states = await startPeer(['--tcp', String(port)]);
        bus = { id: 'peer-tcp', type: 'modbus-tcp', host: '127.0.0.1', port, timeout: '500ms' };
      } else {
        if (!socatAvailable()) return;
        const meterEnd = join(dir, 'ttyPeer');
        const gatewayEnd = join(dir, 'ttyGateway');
        socat = await startPtyPair(meterEnd, gatewayEnd);
        states = await startPeer(['--rtu', meterEnd, '--baud', '9600']);
        bus = {
          id: 'peer-rtu',
          type: 'modbus-rtu',
          path: gatewayEnd,
          baudRate: 9600,
          parity: 'none',
          timeout: '500ms',
        };
      }
      const campus = validateCampus(
        {
          campus: { name: 'Peer meters' },
          dataDir: join(dir, transport),
          sites: [
            {
              id: 'peer',
              gateways: [
                {
                  id: 'gw1',
                  buses: [
                    {
                      ...bus,
                      meters: Object.keys(PROFILES).map((unit) => ({
                        id: METER(unit),
                        kind: 'electricity',
                        profile: PROFILES[unit],
                        unitId: Number(unit),
                        pollInterval: '1s',
                      })),
                    },
                  ],
                },
              ],
            },
          ],
        },
        { file: '(peer test)', dir },
      );
      broker = await startEmbeddedBroker({ port: 0 });
      sub = await subscribeReadings({ url: broker.url, topic: 'campus/v1/+/+/+/reading' });
      gw = await startGateway({
        campus,
        gatewayId: 'gw1',
        mqtt: { url: broker.url },
        logger: silentLogger(),
      });
      await waitFor(
        () =>
          Object.keys(PROFILES).every((u) => sub!.readings.filter((r) => r.meter === METER(u)).length >= 5),
        40_000,
        'five readings of each meter',
      );
      await gw.stop();
      gw = undefined;
      for (const r of sub.readings) {
        const unit = r.meter.slice(1);
        expect(r.quality, `${r.meter}: ${r.error?.message ?? r.flags?.join(',')}`).toBe('good');
        const candidates = states.map((s) => mismatchesOf(unit, r.values, s));
        const best = candidates.reduce((a, b) => (b.length < a.length ? b : a));
        expect(best, `${r.meter} at ${r.ts}: nearest peer state differs`).toEqual([]);
      }
    },
    90_000,
  );
});
