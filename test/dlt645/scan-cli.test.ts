import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import type { Dlt645Profile } from '../../adapters/dlt645/profile.ts';
import { registerDlt645Commands } from '../../bin/dlt645-cli.ts';
import { loadFieldProfiles } from '../../config/field-profiles.ts';
import { startDlt645Line } from '../../simulators/dlt645/bus.ts';
import type { LineServer } from '../../simulators/dlt645/line-server.ts';
import { Dlt645SimMeter } from '../../simulators/dlt645/meter.ts';

const profile = loadFieldProfiles().get('dlt645-single-phase-prepaid') as Dlt645Profile;
const sim = (address: string) =>
  new Dlt645SimMeter({ id: address, address, profile, load: 'dorm-room', seed: 1 });

async function scan(args: string[]): Promise<{ out: string[]; error?: string }> {
  const out: string[] = [];
  let error: string | undefined;
  const program = new Command().exitOverride();
  registerDlt645Commands(program, {
    guarded: (fn) => fn().catch((e: Error) => void (error = e.message)),
    print: (l) => out.push(l),
  });
  await program.parseAsync(['node', 'campus-energy', 'dlt645', 'scan', ...args]);
  return error === undefined ? { out } : { out, error };
}

describe('campus-energy dlt645 scan', () => {
  let line: LineServer | undefined;
  afterEach(async () => {
    await line?.close();
    line = undefined;
  });

  it('prints the address of the only meter on a converter line', async () => {
    line = await startDlt645Line({ transport: { kind: 'tcp' }, meters: [sim('000012345678')] });
    expect(await scan(['--host', line.host!, '--port', String(line.port), '--timeout', '500'])).toEqual({
      out: ['000012345678'],
    });
  });

  it('says that read address needs one meter when two answer, and names a silent line', async () => {
    line = await startDlt645Line({
      transport: { kind: 'tcp' },
      meters: [sim('000012345678'), sim('000012345679')],
    });
    const two = await scan(['--host', line.host!, '--port', String(line.port), '--timeout', '500']);
    expect(two.out).toEqual([]);
    expect(two.error).toMatch(/exactly one meter on the line|no meter answered/);
    await line.close();
    line = await startDlt645Line({ transport: { kind: 'tcp' }, meters: [] });
    expect(
      (await scan(['--host', line.host!, '--port', String(line.port), '--timeout', '300'])).error,
    ).toMatch(/no meter answered on tcp:/);
  });

  it('refuses options that name no line', async () => {
    expect((await scan([])).error).toMatch(/give --path <serial device> or --host/);
    expect((await scan(['--host', 'h'])).error).toMatch(/--port: not a TCP port/);
  });
});
