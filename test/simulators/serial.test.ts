import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { socatAvailable, startPtyPair } from '../helpers/socat.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupOf } from '../../simulators/farm.ts';
import { SimMeter } from '../../simulators/meters/sim-meter.ts';
import { startSerialServer, type SerialModbusServer } from '../../simulators/modbus/serial-server.ts';
import { ModbusRTU, closeClient, manualClock, readAll, relayMeterLike, sdm630Like } from './fixtures.ts';

const hasSocat = socatAvailable();

describe.skipIf(!hasSocat)('RTU over a serial line (socat pseudo-terminals)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'campus-energy-serial-'));
  const serverEnd = join(dir, 'a');
  const clientEnd = join(dir, 'b');
  const clock = manualClock();
  const meters = [
    new SimMeter({ id: 's1', profile: sdm630Like, load: 'office', seed: 1, unitId: 1, clock: clock.now }),
    new SimMeter({
      id: 's2',
      profile: relayMeterLike,
      load: 'dorm-room',
      seed: 2,
      unitId: 2,
      clock: clock.now,
    }),
  ];
  let socat: { close(): void };
  let server: SerialModbusServer;
  const client = new ModbusRTU();

  beforeAll(async () => {
    socat = await startPtyPair(serverEnd, clientEnd);
    server = await startSerialServer({ path: serverEnd, lookup: lookupOf(meters) });
    await client.connectRTUBuffered(clientEnd, { baudRate: 9600 });
    client.setTimeout(500);
  });

  afterAll(async () => {
    await closeClient(client);
    await server?.close();
    socat?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves values to connectRTUBuffered', async () => {
    client.setID(1);
    const got = await readAll(client, sdm630Like);
    const truth = meters[0]!.values();
    for (const [q, v] of Object.entries(truth)) expect(got[q as keyof typeof got], q).toBeCloseTo(v, 3);
  });

  it('switches a relay and reports exceptions and bad CRCs', async () => {
    client.setID(2);
    await expect(client.writeRegister(0x1a, 0)).rejects.toMatchObject({ modbusCode: 1 });
    await client.writeRegisters(0x1a, [0]);
    expect((await readAll(client, relayMeterLike)).relay_closed).toBe(0);
    meters[1]!.setFault({ type: 'crc' });
    await expect(client.readHoldingRegisters(0x0a, 2)).rejects.toThrow(/CRC/);
    meters[1]!.setFault({ type: 'exception', code: 6 });
    await expect(client.readHoldingRegisters(0x0a, 2)).rejects.toMatchObject({ modbusCode: 6 });
    meters[1]!.setFault({ type: 'none' });
    expect((await client.readHoldingRegisters(0x0a, 2)).data).toHaveLength(2);
  });

  it('stays silent for a timeout fault and an absent unit', async () => {
    client.setID(9);
    await expect(client.readHoldingRegisters(0, 1)).rejects.toMatchObject({
      name: 'TransactionTimedOutError',
    });
    client.setID(1);
    meters[0]!.setFault({ type: 'timeout' });
    await expect(client.readInputRegisters(0, 2)).rejects.toMatchObject({ name: 'TransactionTimedOutError' });
    meters[0]!.setFault({ type: 'none' });
    expect((await client.readInputRegisters(0, 2)).data).toHaveLength(2);
  });
});
