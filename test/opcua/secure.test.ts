import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureGatewayCertificate,
  listCertificates,
  rejectCertificate,
  trustCertificate,
} from '../../adapters/opcua/pki.ts';
import { OpcuaDevice } from '../../gateway/opcua-device.ts';
import {
  startSubstation,
  substationMeters,
  type RunningSubstation,
  type SubstationElement,
} from '../../simulators/substation/server.ts';
import { testLogger } from '../helpers/logger.ts';
import { Results, deviceConfig, hasValue, isError, model, tempDir } from './helpers.ts';

const ELEMENTS: SubstationElement[] = [
  { id: 'T1', kind: 'transformer' },
  { id: 'F1', kind: 'feeder' },
];

describe('OPC UA over SignAndEncrypt / Basic256Sha256', () => {
  const serverPki = tempDir('server');
  const gatewayPki = tempDir('gateway');
  const m = model(ELEMENTS.map((e) => e.id));
  const results = new Results();
  let sub: RunningSubstation;
  let device: OpcuaDevice;

  const substation = (port?: number) =>
    startSubstation({
      id: 'SUB1',
      port,
      elements: ELEMENTS,
      values: m.get,
      pkiDir: serverPki,
    });

  beforeAll(async () => {
    [sub] = await Promise.all([substation(), ensureGatewayCertificate(gatewayPki)]);
    device = new OpcuaDevice({
      device: deviceConfig({
        endpoint: sub.endpoint,
        securityMode: 'SignAndEncrypt',
        securityPolicy: 'Basic256Sha256',
        publishingInterval: 100,
        samplingInterval: 50,
        timeout: 5_000,
        meters: substationMeters(sub, ELEMENTS, 1_000),
      }),
      pkiDir: gatewayPki,
      resolveFile: (p) => p,
      onResult: results.push,
      logger: testLogger(),
      trustCommand: 'campus-energy opcua trust --config campus.yaml --gateway gw1',
    });
    device.start();
  });

  afterAll(async () => {
    await device?.stop();
    await sub?.stop();
  });

  it('refuses an unknown server certificate, names the trust command, and connects once it is trusted', async () => {
    const refused = await results.next(isError('OPCUA_CERT_UNTRUSTED'), 15_000, 0);
    const error = 'error' in refused.r ? refused.r.error : undefined;
    const rejected = listCertificates(gatewayPki).rejected;
    expect(rejected).toHaveLength(1);
    const tp = rejected[0]!.thumbprint;
    expect(tp).toMatch(/^[0-9a-f]{40}$/);
    expect(error?.message).toContain(`campus-energy opcua trust --config campus.yaml --gateway gw1 ${tp}`);
    expect(error?.message).toContain(`thumbprint ${tp}`);
    expect(error?.message).toContain('rejected');
    expect(listCertificates(gatewayPki).trusted).toHaveLength(0);

    // Trusting it (by a prefix, as an operator would type it) is enough: no restart.
    const trusted = await trustCertificate(gatewayPki, tp.slice(0, 8));
    expect(trusted.thumbprint).toBe(tp);
    expect(trusted.applicationUri).toBe('urn:campus-energy:substation:SUB1');
    const after = listCertificates(gatewayPki);
    expect(after.trusted.map((c) => c.thumbprint)).toEqual([tp]);
    expect(after.rejected).toHaveLength(0);

    const first = await results.next(hasValue('power_kw'), 15_000);
    expect(first.meter).toMatch(/^SUB1-(T1|F1)$/);
    expect('quality' in first.r && first.r.quality).toBe('good');
    expect('deviceTs' in first.r && typeof first.r.deviceTs).toBe('number');

    const from = results.all.length;
    const changedAt = Date.now();
    m.values.get('T1')!.powerKw = 432.5;
    const change = await results.next(
      (r, meter) => meter === 'SUB1-T1' && hasValue('power_kw', (v) => v === 432.5)(r),
      1_000,
      from,
    );
    const latency = change.at - changedAt;
    console.log(`data change → PollResult (SignAndEncrypt): ${latency} ms`);
    expect(latency).toBeLessThan(1_000);
    expect('values' in change.r && change.r.values.breaker_closed).toBe(1);
  });

  it('rides through a server restart: error results in the gap, then the subscription is rebuilt', async () => {
    await results.next(hasValue('power_kw'), 10_000, 0);
    const port = sub.port;
    await sub.stop();
    const down = results.all.length;
    await results.next(isError('OPCUA_DISCONNECTED'), 5_000, down);
    // Nothing cached is sent as fresh while the server is gone.
    const gapEnd = results.all.length;
    sub = await substation(port);
    const back = await results.next(hasValue('power_kw'), 15_000, gapEnd);
    expect(results.all.slice(down, back.index).every((e) => 'error' in e.r)).toBe(true);

    const from = results.all.length;
    const changedAt = Date.now();
    m.values.get('F1')!.powerKw = 77.25;
    const change = await results.next(
      (r, meter) => meter === 'SUB1-F1' && hasValue('power_kw', (v) => v === 77.25)(r),
      1_000,
      from,
    );
    const latency = change.at - changedAt;
    console.log(`data change → PollResult after server restart: ${latency} ms`);
    expect(latency).toBeLessThan(1_000);
    expect(device.health.snapshot(Date.now()).errors).toBeGreaterThan(0);
  });

  it('lists, rejects and re-trusts server certificates by thumbprint or file', async () => {
    const [cert] = listCertificates(gatewayPki).trusted;
    expect(cert).toBeDefined();
    expect(cert!.notAfter.getTime()).toBeGreaterThan(Date.now());
    expect(listCertificates(gatewayPki).own?.applicationUri).toMatch(/campus-energy-gateway/);

    await expect(trustCertificate(gatewayPki, 'ffffffff')).rejects.toThrow(
      /no certificate with thumbprint ffffffff/,
    );
    await expect(rejectCertificate(gatewayPki, 'zz')).rejects.toThrow(
      /neither a certificate file nor a thumbprint/,
    );

    const rejected = await rejectCertificate(gatewayPki, cert!.thumbprint);
    expect(rejected.thumbprint).toBe(cert!.thumbprint);
    expect(listCertificates(gatewayPki).trusted).toHaveLength(0);
    expect(listCertificates(gatewayPki).rejected.map((c) => c.thumbprint)).toEqual([cert!.thumbprint]);

    const fromFile = await trustCertificate(gatewayPki, sub.certificateFile);
    expect(fromFile.thumbprint).toBe(cert!.thumbprint);
    expect(listCertificates(gatewayPki).trusted.map((c) => c.thumbprint)).toEqual([cert!.thumbprint]);
  });
});
