import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureGatewayCertificate } from '../../adapters/opcua/pki.ts';
import { OPCUA_ERROR_CATALOGUE } from '../../adapters/opcua/errors.ts';
import { OpcuaDevice } from '../../gateway/opcua-device.ts';
import { startSubstation, type RunningSubstation } from '../../simulators/substation/server.ts';
import { testLogger } from '../helpers/logger.ts';
import { Results, deviceConfig, hasValue, isError, model, tempDir } from './helpers.ts';

describe('OPC UA device features (security None)', () => {
  const serverPki = tempDir('server');
  const gatewayPki = tempDir('gateway');
  const m = model(['T1', 'F1', 'F2']);
  let sub: RunningSubstation;
  const devices: OpcuaDevice[] = [];

  const run = (raw: Record<string, unknown>, password?: string) => {
    const results = new Results();
    const device = new OpcuaDevice({
      device: deviceConfig({
        endpoint: sub.endpoint,
        securityMode: 'None',
        securityPolicy: 'None',
        publishingInterval: 100,
        samplingInterval: 50,
        timeout: 3_000,
        ...raw,
      }),
      pkiDir: gatewayPki,
      ...(password !== undefined ? { password } : {}),
      resolveFile: (p) => p,
      onResult: results.push,
      logger: testLogger(),
    });
    devices.push(device);
    device.start();
    return { device, results };
  };

  beforeAll(async () => {
    [sub] = await Promise.all([
      startSubstation({
        id: 'SUB2',
        elements: [
          { id: 'T1', kind: 'transformer' },
          { id: 'F1', kind: 'feeder' },
          { id: 'F2', kind: 'feeder' },
        ],
        values: m.get,
        pkiDir: serverPki,
        users: [{ username: 'scada', password: 's3cret' }],
      }),
      ensureGatewayCertificate(gatewayPki),
    ]);
  });
  afterEach(async () => {
    await Promise.all(devices.splice(0).map((d) => d.stop()));
  });
  afterAll(async () => {
    await sub?.stop();
  });

  it('logs in with user name and password, and names a wrong password clearly', async () => {
    const meters = [
      {
        id: 'm-t1',
        kind: 'electricity',
        pollInterval: 300,
        nodes: { power_kw: sub.nodeId('T1', 'power_kw') },
      },
    ];
    const ok = run({ identity: { type: 'username', username: 'scada', passwordEnv: 'X' }, meters }, 's3cret');
    await ok.results.next(hasValue('power_kw', (v) => v === m.get('T1').powerKw));

    const bad = run({ identity: { type: 'username', username: 'scada', passwordEnv: 'X' }, meters }, 'wrong');
    const refused = await bad.results.next(isError());
    expect('error' in refused.r && refused.r.error.code).toBe('OPCUA_AUTH_FAILED');
    expect('error' in refused.r && refused.r.error.message).toMatch(/refused the username identity/);
  });

  it('maps Uncertain to uncertain with flags, drops Bad values, and errors when all are Bad', async () => {
    sub.setStatus('F1', 'power_kw', 'UncertainLastUsableValue');
    sub.setStatus('F1', 'current_a', 'BadSensorFailure');
    sub.setStatus('F2', 'power_kw', 'BadSensorFailure');
    sub.setStatus('F2', 'voltage_v', 'BadSensorFailure');
    const { results } = run({
      meters: [
        {
          id: 'm-f1',
          kind: 'electricity',
          pollInterval: 300,
          nodes: {
            power_kw: sub.nodeId('F1', 'power_kw'),
            current_a: sub.nodeId('F1', 'current_a'),
            pf: sub.nodeId('F1', 'pf'),
          },
        },
        {
          id: 'm-f2',
          kind: 'electricity',
          pollInterval: 300,
          nodes: { power_kw: sub.nodeId('F2', 'power_kw'), voltage_v: sub.nodeId('F2', 'voltage_v') },
        },
      ],
    });
    const f1 = await results.next((r, meter) => meter === 'm-f1' && hasValue('power_kw')(r));
    expect(f1.r).toMatchObject({
      quality: 'uncertain',
      flags: ['OPCUA_UNCERTAIN', 'UncertainLastUsableValue'],
      values: { power_kw: m.get('F1').powerKw, pf: 0.95 },
    });
    expect('values' in f1.r && 'current_a' in f1.r.values).toBe(false);
    const f2 = await results.next((r, meter) => meter === 'm-f2' && isError()(r));
    expect('error' in f2.r && f2.r.error.code).toBe('OPCUA_BAD_STATUS');
    expect('error' in f2.r && f2.r.error.message).toContain('BadSensorFailure');
    for (const q of ['power_kw', 'current_a'] as const) sub.setStatus('F1', q, 'Good');
    sub.setStatus('F2', 'power_kw', 'Good');
    sub.setStatus('F2', 'voltage_v', 'Good');
  });

  it('polls in poll mode, resolves browse paths, scales units and maps the breaker to 1/0', async () => {
    m.get('T1').breakerClosed = false;
    const { results, device } = run({
      mode: 'poll',
      meters: [
        {
          id: 'm-t1',
          kind: 'electricity',
          pollInterval: 200,
          nodes: {
            power_kw: { browsePath: sub.browsePath('T1', 'power_kw'), unit: 'W' },
            breaker_closed: sub.nodeId('T1', 'breaker_closed'),
            energy_import_kwh: { browsePath: '/1:SUB2/1:T1/1:no_such_node' },
          },
        },
      ],
    });
    const r = await results.next(hasValue('power_kw'));
    expect(r.r).toMatchObject({
      quality: 'good',
      values: { power_kw: m.get('T1').powerKw / 1000, breaker_closed: 0 },
    });
    expect('values' in r.r && 'energy_import_kwh' in r.r.values).toBe(false);
    const t0 = Date.now();
    m.get('T1').powerKw = 5_000;
    const polled = await results.next(hasValue('power_kw', (v) => v === 5));
    expect(polled.at - t0).toBeLessThan(1_000);
    expect(device.health.snapshot(Date.now()).polls).toBeGreaterThan(1);
    m.get('T1').breakerClosed = true;
  });

  it('sends a heartbeat reading every pollInterval without changes, and a reading per change', async () => {
    const { results } = run({
      meters: [
        {
          id: 'm-f2',
          kind: 'electricity',
          pollInterval: 250,
          nodes: { energy_import_kwh: sub.nodeId('F2', 'energy_import_kwh') },
        },
      ],
    });
    const first = await results.next(hasValue('energy_import_kwh'));
    const second = await results.next(hasValue('energy_import_kwh'), 2_000, first.index + 1);
    const third = await results.next(hasValue('energy_import_kwh'), 2_000, second.index + 1);
    expect(third.at - first.at).toBeLessThan(1_000);
  });

  it('documents every error code', () => {
    for (const doc of Object.values(OPCUA_ERROR_CATALOGUE))
      expect(doc.description.length).toBeGreaterThan(20);
  });
});
