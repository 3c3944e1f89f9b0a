import { describe, expect, it } from 'vitest';
import { MODBUS_ERROR_CATALOGUE, MODBUS_ERROR_CODES, ModbusError } from '../../adapters/modbus/errors.ts';
import { classifyModbusFailure } from '../../adapters/modbus/client.ts';

describe('Modbus error catalogue', () => {
  it('documents every code', () => {
    expect(Object.keys(MODBUS_ERROR_CATALOGUE).sort()).toEqual([...MODBUS_ERROR_CODES].sort());
    for (const code of MODBUS_ERROR_CODES) {
      expect(MODBUS_ERROR_CATALOGUE[code].description.length, code).toBeGreaterThan(20);
    }
  });

  it('names device and meter in the message', () => {
    const e = new ModbusError('MODBUS_EXCEPTION', 'exception 2', {
      device: 'bus-a',
      meter: 'dorm-1',
      exceptionCode: 2,
    });
    expect(e.message).toContain('bus-a');
    expect(e.message).toContain('dorm-1');
    expect(e).toMatchObject({ code: 'MODBUS_EXCEPTION', device: 'bus-a', meter: 'dorm-1', exceptionCode: 2 });
    const t = new ModbusError('MODBUS_TIMEOUT', 'no answer', { device: 'bus-a' }).forMeter('lab-3');
    expect(t.meter).toBe('lab-3');
    expect(t.message).toBe('MODBUS_TIMEOUT (device bus-a, meter lab-3): no answer');
  });

  it('classifies modbus-serial failures', () => {
    expect(classifyModbusFailure(Object.assign(new Error('Modbus exception 2'), { modbusCode: 2 }))).toEqual({
      code: 'MODBUS_EXCEPTION',
      exceptionCode: 2,
    });
    expect(
      classifyModbusFailure({ name: 'TransactionTimedOutError', message: 'Timed out', errno: 'ETIMEDOUT' })
        .code,
    ).toBe('MODBUS_TIMEOUT');
    expect(classifyModbusFailure(new Error('CRC error')).code).toBe('MODBUS_CRC');
    expect(classifyModbusFailure(new Error('Data length error, expected 9 got 7')).code).toBe(
      'MODBUS_GARBAGE',
    );
    expect(classifyModbusFailure(new Error('Unexpected data error, expected address 1 got 2')).code).toBe(
      'MODBUS_GARBAGE',
    );
    expect(classifyModbusFailure({ message: 'Port Not Open', errno: 'ECONNREFUSED' }).code).toBe(
      'MODBUS_DISCONNECTED',
    );
    expect(
      classifyModbusFailure(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })).code,
    ).toBe('MODBUS_DISCONNECTED');
  });
});
