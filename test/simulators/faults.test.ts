import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFarm, type Farm } from '../../simulators/farm.ts';
import { closeClient, manualClock, relayMeterLike, tcpClient } from './fixtures.ts';

let farm: Farm;
const clock = manualClock();

beforeAll(async () => {
  farm = await startFarm({
    clock: clock.now,
    concentrators: (['modbus-tcp', 'rtu-over-tcp'] as const).map((transport) => ({
      id: transport,
      transport,
      meters: [
        { id: `${transport}-faulty`, unitId: 5, profile: relayMeterLike, load: 'office' as const, seed: 5 },
        { id: `${transport}-healthy`, unitId: 6, profile: relayMeterLike, load: 'office' as const, seed: 6 },
      ],
    })),
  });
});
afterAll(async () => {
  await farm.stop();
});

for (const transport of ['modbus-tcp', 'rtu-over-tcp'] as const) {
  const clientKind = transport === 'modbus-tcp' ? 'tcp' : 'telnet';
  const faulty = `${transport}-faulty`;

  describe(`faults over ${transport}`, () => {
    async function withClient<T>(
      timeoutMs: number,
      fn: (c: Awaited<ReturnType<typeof tcpClient>>) => Promise<T>,
    ) {
      const port = farm.concentrators.find((c) => c.id === transport)!.port;
      const client = await tcpClient(port, clientKind, 5, timeoutMs);
      try {
        return await fn(client);
      } finally {
        await closeClient(client);
        farm.setFault(faulty, { type: 'none' });
      }
    }
    const read = (c: Awaited<ReturnType<typeof tcpClient>>) => c.readHoldingRegisters(0x0a, 7);

    it('none: answers', async () => {
      await withClient(300, async (c) => expect((await read(c)).data).toHaveLength(7));
    });

    it('timeout: the client times out, other units still answer', async () => {
      farm.setFault(faulty, { type: 'timeout' });
      await withClient(100, async (c) => {
        await expect(read(c)).rejects.toMatchObject({ name: 'TransactionTimedOutError', errno: 'ETIMEDOUT' });
        c.setID(6);
        expect((await read(c)).data).toHaveLength(7);
      });
    });

    it('exception: the client sees the code', async () => {
      farm.setFault(faulty, { type: 'exception', code: 4 });
      await withClient(300, async (c) => {
        await expect(read(c)).rejects.toMatchObject({ modbusCode: 4 });
        await expect(c.writeRegisters(0x1a, [0])).rejects.toMatchObject({ modbusCode: 4 });
      });
      expect(farm.meter(faulty).relayClosed).toBe(true);
    });

    it('garbage: the client rejects the response', async () => {
      farm.setFault(faulty, { type: 'garbage' });
      await withClient(150, async (c) => {
        const err = await read(c).then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(err).toBeDefined();
        if (transport === 'modbus-tcp') expect(err!.message).toMatch(/length/i);
        else expect(err!.message).toMatch(/CRC|timed out|length/i);
      });
    });

    it('crc: a bad checksum (RTU) or a malformed frame (TCP)', async () => {
      farm.setFault(faulty, { type: 'crc' });
      await withClient(300, async (c) => {
        await expect(read(c)).rejects.toThrow(transport === 'modbus-tcp' ? /Data length error/ : /CRC error/);
      });
    });

    it('slow: answers after the delay, or times out a shorter client timeout', async () => {
      farm.setFault(faulty, { type: 'slow', delayMs: 120 });
      await withClient(500, async (c) => {
        const t0 = performance.now();
        expect((await read(c)).data).toHaveLength(7);
        expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
      });
      farm.setFault(faulty, { type: 'slow', delayMs: 200 });
      await withClient(50, async (c) => {
        await expect(read(c)).rejects.toMatchObject({ name: 'TransactionTimedOutError' });
      });
    });

    it('disconnect: the concentrator drops the connection', async () => {
      farm.setFault(faulty, { type: 'disconnect' });
      await withClient(200, async (c) => {
        const closed = new Promise<void>((resolve) => c.on('close', () => resolve()));
        await expect(read(c)).rejects.toBeDefined();
        await closed;
        expect(c.isOpen).toBe(false);
      });
    });

    it('rejects an invalid fault', () => {
      expect(() => farm.setFault(faulty, { type: 'slow', delayMs: -1 })).toThrow();
    });
  });
}
