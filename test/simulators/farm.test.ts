import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFarm, type Farm, type FarmSpec } from '../../simulators/farm.ts';
import {
  closeClient,
  manualClock,
  readAll,
  relayMeterLike,
  sdm630Like,
  tcpClient,
  waterLike,
} from './fixtures.ts';

const HOUR = 3_600_000;
const clock = manualClock();
let farm: Farm;

const spec: FarmSpec = {
  clock: clock.now,
  concentrators: [
    {
      id: 'tcp',
      transport: 'modbus-tcp',
      meters: [
        { id: 'sdm-1', unitId: 1, profile: sdm630Like, load: 'office', seed: 11 },
        { id: 'relay-2', unitId: 2, profile: relayMeterLike, load: 'dorm-room', seed: 12 },
        { id: 'water-3', unitId: 3, profile: waterLike, load: 'business', seed: 13 },
      ],
    },
    {
      id: 'rtu',
      transport: 'rtu-over-tcp',
      meters: [
        { id: 'sdm-21', unitId: 1, profile: sdm630Like, load: 'business', seed: 21 },
        { id: 'relay-22', unitId: 247, profile: relayMeterLike, load: 'staff-household', seed: 22 },
      ],
    },
    {
      id: 'big',
      transport: 'modbus-tcp',
      meters: Array.from({ length: 247 }, (_, i) => ({
        id: `dorm-${i + 1}`,
        unitId: i + 1,
        profile: relayMeterLike,
        load: 'dorm-room' as const,
        seed: 1000 + i,
      })),
    },
  ],
};

function port(id: string): number {
  return farm.concentrators.find((c) => c.id === id)!.port;
}

beforeAll(async () => {
  farm = await startFarm(spec);
});
afterAll(async () => {
  await farm.stop();
});

describe('farm', () => {
  it('reports a bound port per concentrator', () => {
    expect(farm.concentrators.map((c) => c.id)).toEqual(['tcp', 'rtu', 'big']);
    for (const c of farm.concentrators) expect(c.port).toBeGreaterThan(0);
  });

  for (const [transport, clientKind] of [
    ['tcp', 'tcp'],
    ['tcp', 'tcp-rtu-buffered'],
    ['rtu', 'telnet'],
  ] as const) {
    it(`serves an SDM630-like meter over ${transport} to modbus-serial (${clientKind})`, async () => {
      const client = await tcpClient(port(transport), clientKind, 1);
      try {
        const meterId = transport === 'tcp' ? 'sdm-1' : 'sdm-21';
        const got = await readAll(client, sdm630Like);
        const truth = farm.meter(meterId).values();
        for (const [q, v] of Object.entries(truth)) expect(got[q as keyof typeof got], q).toBeCloseTo(v, 3);
        expect(got.voltage_v).toBeGreaterThan(220);
        expect(got.power_kw).toBeGreaterThan(0);
      } finally {
        await closeClient(client);
      }
    });
  }

  it('shows energy rising as the clock advances', async () => {
    const client = await tcpClient(port('tcp'), 'tcp', 1);
    try {
      const before = (await readAll(client, sdm630Like)).energy_import_kwh!;
      clock.advance(2 * HOUR);
      const after = (await readAll(client, sdm630Like)).energy_import_kwh!;
      expect(after - before).toBeGreaterThan(0.1);
      client.setID(3);
      const v0 = (await readAll(client, waterLike)).volume_m3!;
      clock.advance(24 * HOUR);
      expect((await readAll(client, waterLike)).volume_m3!).toBeGreaterThan(v0);
    } finally {
      await closeClient(client);
    }
  });

  for (const [transport, clientKind, unitId, meterId] of [
    ['tcp', 'tcp', 2, 'relay-2'],
    ['rtu', 'telnet', 247, 'relay-22'],
  ] as const) {
    it(`opens and closes a relay with FC16 and refuses FC06 (${transport})`, async () => {
      const client = await tcpClient(port(transport), clientKind, unitId);
      try {
        await expect(client.writeRegister(0x1a, 0)).rejects.toMatchObject({ modbusCode: 1 });
        expect(farm.meter(meterId).relayClosed).toBe(true);
        await client.writeRegisters(0x1a, [0]);
        const open = await readAll(client, relayMeterLike);
        expect(open).toMatchObject({ relay_closed: 0, power_kw: 0, current_a: 0 });
        clock.advance(HOUR);
        expect((await readAll(client, relayMeterLike)).energy_import_kwh).toBe(open.energy_import_kwh);
        await expect(client.writeRegisters(0x1a, [7])).rejects.toMatchObject({ modbusCode: 3 });
        await client.writeRegisters(0x1a, [1]);
        clock.advance(HOUR);
        const closed = await readAll(client, relayMeterLike);
        expect(closed.relay_closed).toBe(1);
        expect(closed.energy_import_kwh).toBeGreaterThan(open.energy_import_kwh!);
      } finally {
        await closeClient(client);
      }
    });
  }

  it('answers 02 outside the mapped span and 0 for gaps inside it', async () => {
    const client = await tcpClient(port('tcp'), 'tcp', 1);
    try {
      expect((await client.readInputRegisters(0x0c, 2)).data).toEqual([0, 0]);
      await expect(client.readInputRegisters(0x4c, 2)).rejects.toMatchObject({ modbusCode: 2 });
      await expect(client.readHoldingRegisters(0, 2)).rejects.toMatchObject({ modbusCode: 2 });
      await expect(client.readInputRegisters(0, 100)).rejects.toMatchObject({ modbusCode: 3 });
    } finally {
      await closeClient(client);
    }
  });

  it('stays silent for a unit id nobody has', async () => {
    const client = await tcpClient(port('tcp'), 'tcp', 99, 100);
    try {
      await expect(client.readInputRegisters(0, 2)).rejects.toMatchObject({
        name: 'TransactionTimedOutError',
      });
    } finally {
      await closeClient(client);
    }
  });

  it('serves all 247 unit ids of one port and counts requests', async () => {
    const before = farm.stats().requests;
    const client = await tcpClient(port('big'), 'tcp', 1);
    try {
      for (let unit = 1; unit <= 247; unit++) {
        client.setID(unit);
        const v = await readAll(client, relayMeterLike);
        expect(v.energy_import_kwh).toBeCloseTo(farm.meter(`dorm-${unit}`).values().energy_import_kwh!, 1);
      }
    } finally {
      await closeClient(client);
    }
    expect(farm.stats().requests - before).toBe(247);
  });

  it('serves one request at a time on an RTU bus, not on Modbus TCP', async () => {
    const measure = async (
      transport: 'tcp' | 'rtu',
      kind: 'tcp' | 'telnet',
      slowUnit: number,
      otherUnit: number,
    ) => {
      const a = await tcpClient(port(transport), kind, slowUnit, 1000);
      const b = await tcpClient(port(transport), kind, otherUnit, 1000);
      try {
        const t0 = performance.now();
        const slow = a.readInputRegisters(0, 2);
        await new Promise((r) => setTimeout(r, 20));
        await b.readHoldingRegisters(0x0a, 2);
        const other = performance.now() - t0;
        await slow;
        return other;
      } finally {
        await closeClient(a);
        await closeClient(b);
      }
    };
    farm.setFault('sdm-21', { type: 'slow', delayMs: 200 });
    farm.setFault('sdm-1', { type: 'slow', delayMs: 200 });
    try {
      expect(await measure('rtu', 'telnet', 1, 247)).toBeGreaterThanOrEqual(190);
      expect(await measure('tcp', 'tcp', 1, 2)).toBeLessThan(150);
    } finally {
      farm.setFault('sdm-21', { type: 'none' });
      farm.setFault('sdm-1', { type: 'none' });
    }
  });

  it('refuses an invalid spec with every problem and where it is', async () => {
    await expect(
      startFarm({
        concentrators: [
          {
            id: 'x',
            transport: 'modbus-tcp',
            meters: [
              { id: 'a', unitId: 1, profile: waterLike, load: 'office', seed: 1 },
              { id: 'a', unitId: 1, profile: waterLike, kind: 'heat', load: 'office', seed: 1 },
              { id: 'c', unitId: 0, profile: waterLike, load: 'office', seed: 1 },
            ],
          },
        ],
      }),
    ).rejects.toThrow(/duplicate meter id[\s\S]*used twice[\s\S]*kind heat[\s\S]*outside 1\.\.247/);
    expect(() => farm.meter('nope')).toThrow(/no simulated meter nope/);
  });

  it('serves tens of thousands of requests per second on loopback', async () => {
    const clients = await Promise.all([1, 2, 3, 4].map(() => tcpClient(port('big'), 'tcp', 1)));
    try {
      const before = farm.stats().requests;
      const t0 = performance.now();
      await Promise.all(
        clients.map(async (c, i) => {
          c.setID(i + 1);
          for (let n = 0; n < 5000; n++) await c.readHoldingRegisters(0x0a, 17);
        }),
      );
      const rate = (farm.stats().requests - before) / ((performance.now() - t0) / 1000);
      console.log(`farm: ${Math.round(rate)} requests/s with 4 sequential modbus-serial clients`);
      // A low floor: the client costs more than the server, and CI machines are shared.
      expect(rate).toBeGreaterThan(5_000);
    } finally {
      await Promise.all(clients.map(closeClient));
    }
  });
});
