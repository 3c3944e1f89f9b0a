import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

/** What a process loaded: the packages, and the product's own modules (file URLs). */
export interface LoadedModules {
  packages: Set<string>;
  own: string[];
}

/**
 * Starts `campus-energy <args>` as operators do (bin/campus-energy.js) with the loader hook of
 * test/gateway/module-trace.mjs, waits until it prints `ready` (60 s at most), stops it with
 * SIGTERM and returns every module it loaded. Fails the test, with what it said, if it never does.
 */
export async function modulesLoadedUntil(dir: string, args: string[], ready: string): Promise<LoadedModules> {
  const trace = join(dir, 'modules.txt');
  writeFileSync(trace, '');
  const child = spawn(
    process.execPath,
    ['--import', './test/gateway/module-trace.mjs', 'bin/campus-energy.js', ...args, '--log-level', 'info'],
    { env: { ...process.env, MODULE_TRACE_FILE: trace }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const started = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(ready)) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.once('exit', () => resolve(false));
  });
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  expect(started, out.slice(-3000)).toBe(true);
  const urls = readFileSync(trace, 'utf8').split('\n').filter(Boolean);
  const packages = new Set<string>();
  for (const url of urls) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (m) packages.add(m[1]!);
  }
  const own = urls.filter((u) => !u.includes('/node_modules/') && u.startsWith('file:'));
  return { packages, own };
}

/**
 * A one-gateway campus file in `dir` for the lean-entry tests (JSON is YAML: read as operators
 * write it), with the broker `mqttUrl` when given and the gateway's buses or OPC UA servers.
 */
export function leanCampusFile(
  dir: string,
  { mqttUrl, gateway = {} }: { mqttUrl?: string; gateway?: { buses?: unknown[]; opcua?: unknown[] } } = {},
): string {
  const file = join(dir, 'campus.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      campus: { name: 'Lean' },
      dataDir: join(dir, 'data'),
      ...(mqttUrl ? { mqtt: { url: mqttUrl } } : {}),
      sites: [{ id: 's1', gateways: [{ id: 'gw1', buses: gateway.buses ?? [], ...gateway }] }],
    }),
  );
  return file;
}
