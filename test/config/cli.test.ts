import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['bin/campus-energy.js', ...args], { encoding: 'utf8' });

describe('campus-energy CLI', () => {
  it('config check accepts the example campus', () => {
    const r = cli('config', 'check', 'config/examples/campus.yaml');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('east/gw-east-1: 3 buses, 9 meters');
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

  it('scenario-render writes a simulated day into a SQLite store with its ground truth', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'campus-cli-render-'));
    const out = join(dir, 'store.sqlite');
    const r = cli(
      'scenario-render',
      '-o',
      out,
      '--days',
      '1',
      '--step',
      '1h',
      '--truth',
      join(dir, 't.json'),
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const truth = JSON.parse(readFileSync(join(dir, 't.json'), 'utf8')) as {
      intervals: number;
      readings: number;
    };
    expect(truth.intervals).toBe(24);
    const store = SqliteStore.open({ path: out });
    const latest = await store.latest();
    await store.close();
    expect(latest.length).toBeGreaterThan(300);
    expect(r.stdout).toContain(`${truth.readings} readings`);
  });

  it('broker-config writes the ACL and password file, passwords readable by the owner only', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'campus-cli-broker-')), 'broker');
    const r = cli('broker-config', '-c', 'config/examples/campus.yaml', '-o', dir);
    expect(r.status).toBe(0);
    const acl = readFileSync(join(dir, 'acl'), 'utf8');
    expect(acl).toContain('user gw/east/gw-east-1\ntopic read campus/v1/east/gw-east-1/+/cmd\n');
    expect(acl).toContain('topic write campus/v1/east/gw-east-1/+/reading\n');
    expect(statSync(join(dir, 'mqtt-secrets.json')).mode & 0o077).toBe(0);
    expect(statSync(join(dir, 'passwd')).mode & 0o077).toBe(0);
  });
});
