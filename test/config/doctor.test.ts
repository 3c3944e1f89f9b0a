import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startField, type Field } from '../helpers/field.ts';
import { makeTestCerts } from '../helpers/tls-certs.ts';

/**
 * Issue 17 item 5: `campus-energy doctor` reads every meter of the campus file once through the
 * gateway's own poller, and says what to fix in the installer's language: a meter whose unit id is
 * wrong fails with its code and a fix, the others answer, a certificate close to expiry is named.
 */

/** Asynchronously: the simulated meters answer from this process's event loop. */
function doctor(config: string, lang: 'zh' | 'en'): Promise<{ status: number | null; out: string }> {
  const child = spawn(process.execPath, ['bin/campus-energy.js', 'doctor', '-c', config, '--lang', lang]);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('exit', (status) => resolve({ status, out })));
}

describe('campus-energy doctor', () => {
  let field: Field;
  let config: string;

  beforeAll(async () => {
    field = await startField({
      concentrators: [{ transport: 'modbus-tcp', meters: 3 }],
      pollInterval: 60_000,
    });
    const raw = structuredClone(field.raw) as {
      sites: { gateways: { buses: { timeout?: number; meters: { id: string; unitId: number }[] }[] }[] }[];
    };
    const bus = raw.sites[0]!.gateways[0]!.buses[0]!;
    bus.timeout = 500;
    bus.meters[1]!.unitId = 200; // nobody answers there
    const certs = makeTestCerts(); // valid for two days
    config = join(field.dir, 'campus.yaml');
    writeFileSync(
      config,
      stringify({ ...raw, embeddedBroker: { tls: { certFile: certs.certFile, keyFile: certs.keyFile } } }),
    );
  });
  afterAll(async () => field?.stop());

  it('reads every meter, names the one that fails with what to fix, and the certificate about to expire', async () => {
    const { status, out } = await doctor(config, 'en');
    expect(status, out).toBe(1);
    const [good1, bad, good3] = field.meterIds;
    expect(out).toMatch(new RegExp(`ok +gw1/\\S+/${good1}`));
    expect(out).toMatch(new RegExp(`ok +gw1/\\S+/${good3}`));
    expect(out).toMatch(new RegExp(`FAIL +gw1/\\S+/${bad}: MODBUS_\\w+`));
    expect(out).toMatch(/fix: /);
    expect(out).toContain('meters: 2 of 3 answered');
    expect(out).toMatch(/CERT .*server\.pem: expires in [01] days: renew it soon/);
    expect(out).toMatch(/disk: [\d.]+ GB free/);
  }, 150_000);

  it('says it in Chinese', async () => {
    const { status, out } = await doctor(config, 'zh');
    expect(status).toBe(1);
    expect(out).toContain('电表：3 块中 2 块应答');
    expect(out).toMatch(/故障 .*MODBUS_/);
    expect(out).toMatch(/处理：/);
    expect(out).toMatch(/证书 .*天后到期，请尽快更新/);
  }, 150_000);
});
