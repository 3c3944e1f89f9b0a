import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['bin/campus-energy.js', ...args], { encoding: 'utf8' });

describe('campus-energy CLI', () => {
  it('config check accepts the example campus', () => {
    const r = cli('config', 'check', 'config/examples/campus.yaml');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('east/gw-east-1: 3 buses, 8 meters');
  });

  it('gateway refuses a bad campus file before polling anything, naming file, line and path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'campus-cli-'));
    const file = join(dir, 'campus.yaml');
    writeFileSync(
      file,
      readFileSync('config/examples/campus.yaml', 'utf8').replace(
        'profile: eastron-sdm630',
        'profile: eastron-sdm999',
      ),
    );
    const r = cli('gateway', '-c', file, '-g', 'gw-east-1', '--mqtt', 'mqtt://127.0.0.1:1');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `${file}:\\d+: sites\\[0\\]\\.gateways\\[0\\]\\.buses\\[0\\]\\.meters\\[1\\]\\.profile: unknown profile "eastron-sdm999"`,
      ),
    );
    expect(r.stdout).toBe('');
  });

  it('gateway names an unknown gateway id', () => {
    const r = cli(
      'gateway',
      '-c',
      'config/examples/campus.yaml',
      '-g',
      'gw-nowhere',
      '--mqtt',
      'mqtt://127.0.0.1:1',
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('gateway "gw-nowhere" is not in');
  });
});
