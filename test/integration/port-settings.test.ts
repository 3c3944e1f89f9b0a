import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModbusTransport } from '../../adapters/modbus/client.ts';
import { ModbusError } from '../../adapters/modbus/errors.ts';
import { parseStty, readPortSettings } from '../../adapters/modbus/port-settings.ts';
import { socatAvailable, startPtyPair } from '../helpers/socat.ts';

/**
 * Issue 26 item 5: `parity: even` on a port that refuses it ran silently as 8N1 (the settings were
 * never read back). A pseudo-terminal is such a port: it takes any baud rate but refuses parity,
 * and 7 data bits, and says so only when asked.
 */
describe.skipIf(!socatAvailable())('serial port settings read back after opening', () => {
  const dir = mkdtempSync(join(tmpdir(), 'campus-port-'));
  const a = join(dir, 'ttyA');
  const b = join(dir, 'ttyB');
  let socat: { close(): void };
  beforeAll(async () => {
    socat = await startPtyPair(a, b);
  });
  afterAll(() => {
    socat?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads what the kernel runs the port at', async () => {
    execFileSync('stty', ['-F', a, '4800', 'cstopb', '-parenb']);
    expect(await readPortSettings(a)).toEqual({ baudRate: 4800, parity: 'none', dataBits: 8, stopBits: 2 });
    expect(parseStty('no settings here')).toBeNull();
  });

  it('opens a line the port can run as configured', async () => {
    const t = await openModbusTransport(
      { type: 'modbus-rtu', path: a, baudRate: 19200, parity: 'none', dataBits: 8, stopBits: 1 },
      'line',
    );
    expect(t.isOpen).toBe(true);
    await t.close();
  });

  it('refuses to run a line whose port refused its parity or data bits, naming them', async () => {
    await expect(
      openModbusTransport(
        { type: 'modbus-rtu', path: a, baudRate: 9600, parity: 'none', dataBits: 7, stopBits: 1 },
        'line',
      ),
    ).rejects.toThrow(/refused 7 data bits \(runs with 8\)/);
    const open = openModbusTransport(
      { type: 'modbus-rtu', path: a, baudRate: 9600, parity: 'even', dataBits: 8, stopBits: 1 },
      'line',
    );
    await expect(open).rejects.toThrow(ModbusError);
    await expect(open).rejects.toThrow(
      /refused parity even \(runs with none\).*9600 8N1.*configured 9600 8E1/,
    );
  });
});
