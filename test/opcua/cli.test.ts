import { Command } from 'commander';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureGatewayCertificate, listCertificates } from '../../adapters/opcua/pki.ts';
import { registerOpcuaCommands } from '../../bin/opcua-cli.ts';
import type { LoadedCampus } from '../../config/campus.ts';
import { gatewayPkiDir } from '../../gateway/opcua-device.ts';
import { tempDir } from './helpers.ts';

describe('campus-energy opcua certs|trust|reject', () => {
  it('finds the gateway PKI and manages its trust list', async () => {
    const dir = tempDir('cli');
    const campus = {
      file: join(dir, 'campus.yaml'),
      dataDir: join(dir, 'var'),
      config: { sites: [{ id: 's1', gateways: [{ id: 'gw1', pkiDir: 'pki-gw1' }, { id: 'gw2' }] }] },
    } as unknown as LoadedCampus;
    expect(gatewayPkiDir(campus, 'gw1')).toBe(join(dir, 'pki-gw1'));
    expect(gatewayPkiDir(campus, 'gw2')).toBe(join(dir, 'var', 'gw2-pki'));
    expect(() => gatewayPkiDir(campus, 'nope')).toThrow(/gateway nope is not in/);

    // Any certificate file will do as "a server certificate" here.
    const certFile = await ensureGatewayCertificate(tempDir('other'));
    const lines: string[] = [];
    const errors: string[] = [];
    const program = new Command('campus-energy').exitOverride();
    registerOpcuaCommands(program, {
      loadCampus: () => campus,
      guarded: (fn) => fn().catch((err: Error) => void errors.push(err.message)),
      print: (l) => lines.push(l),
    });
    const cli = (...args: string[]) =>
      program.parseAsync(['opcua', ...args, '--config', 'campus.yaml', '--gateway', 'gw1'], { from: 'user' });

    await cli('trust', certFile);
    const pki = gatewayPkiDir(campus, 'gw1');
    const [trusted] = listCertificates(pki).trusted;
    expect(trusted).toBeDefined();
    expect(lines.at(-1)).toContain(`trusted ${trusted!.thumbprint}`);

    await cli('reject', trusted!.thumbprint.slice(0, 6));
    expect(listCertificates(pki).rejected.map((c) => c.thumbprint)).toEqual([trusted!.thumbprint]);

    lines.length = 0;
    await cli('certs');
    expect(lines.join('\n')).toMatch(/trusted \(0\):[\s\S]*rejected \(1\):/);
    expect(lines.join('\n')).toContain(trusted!.thumbprint);
    expect(lines.join('\n')).toContain(
      'campus-energy opcua trust --config campus.yaml --gateway gw1 <thumbprint>',
    );

    await cli('trust', 'abcdef0123');
    expect(errors.at(-1)).toMatch(/no certificate with thumbprint abcdef0123/);
  });
});
