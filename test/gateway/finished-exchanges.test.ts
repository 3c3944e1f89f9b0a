import { once } from 'node:events';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import ModbusSerial from 'modbus-serial';
import { openModbusTransport } from '../../adapters/modbus/client.ts';
import { collectStartupGarbage } from '../../gateway/heap.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A Modbus TCP server on loopback whose registers hold their address + 1. */
async function startServer(): Promise<number> {
  const server = new ModbusSerial.ServerTCP(
    {
      getMultipleHoldingRegisters: (addr: number, length: number) =>
        Array.from({ length }, (_, i) => addr + i + 1),
      getHoldingRegister: (addr: number) => addr + 1,
      getInputRegister: (addr: number) => addr + 1,
    },
    { host: '127.0.0.1', port: 0 },
  );
  await once(server, 'initialized');
  const inner = (server as unknown as { _server: net.Server })._server;
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return (inner.address() as net.AddressInfo).port;
}

describe('a Modbus TCP transport keeps no finished exchange alive', () => {
  // A gateway polling 10,000 meters over TCP endpoints held 5,400 ended exchanges (answers,
  // buffers, callbacks) in modbus-serial's transaction table: memory for nothing.
  it('the answers of ended reads can be collected once the caller drops them', async () => {
    const port = await startServer();
    const t = await openModbusTransport({ type: 'modbus-tcp', host: '127.0.0.1', port }, 'bus-test');
    cleanups.push(() => t.close());
    const answers: WeakRef<number[]>[] = [];
    for (let i = 0; i < 60; i++) {
      const values = await t.read(1 + (i % 5), 3, i, 4, 1000);
      // Compared as a copy: an assertion may keep what it was given.
      expect([...values]).toEqual([i + 1, i + 2, i + 3, i + 4]);
      answers.push(new WeakRef(values));
    }
    // A WeakRef's target stays alive until the current job ends: collect after yielding.
    await new Promise((r) => setTimeout(r, 0));
    collectStartupGarbage();
    // The transport's queue settles with the last answer: that one may be alive, no other.
    const alive = answers.slice(0, -1).filter((a) => a.deref() !== undefined).length;
    expect(alive).toBe(0);
    // And the transport still works after its table was emptied.
    expect(await t.read(7, 3, 100, 2, 1000)).toEqual([101, 102]);
  });
});
