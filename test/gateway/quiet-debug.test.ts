import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * adapters/mqtt/quiet-debug.ts: mqtt.js's and mqtt-packet's debug calls, off, cost the gateway
 * about 1.5 KB of garbage a reading (their arguments gathered for nothing). They must get the quiet
 * debuggers, which only works if the wrapper is loaded before mqtt in the gateway's module graph:
 * the child loads gateway/gateway.ts, then turns every mqtt namespace on through `debug` itself and
 * has mqtt-packet write and parse a publish and its PUBACK. Real debuggers would print now.
 */
const CHILD = join(import.meta.dirname, 'quiet-debug-child.ts');

function runChild(debug: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, DEBUG: debug, DEBUG_COLORS: 'no' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
    parsed: number;
    samePath: boolean;
    quiet: boolean;
  };
  return { out, stderr: r.stderr };
}

describe('mqtt debug calls in the gateway', () => {
  it('mqtt and mqtt-packet get quiet debuggers when DEBUG does not name them', () => {
    const { out, stderr } = runChild('');
    expect(out).toEqual({ parsed: 2, samePath: true, quiet: true });
    expect(stderr).not.toMatch(/mqtt-packet:/);
  });

  it('a namespace DEBUG names at start gets the real debugger, which prints', () => {
    const { out, stderr } = runChild('mqtt-packet:*');
    expect(out.parsed).toBe(2);
    expect(stderr).toMatch(/mqtt-packet:(generate|parser|writeToStream)/);
  });
});
