import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startField, type Field } from '../helpers/field.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/readings.ts';
import { exited, killHard, storedSeqs } from '../helpers/campus-cli.ts';

/**
 * Issue 17 item 3: the package as it is installed (npm pack, which builds dist/ in prepack) runs
 * the compiled JavaScript on node alone. Its dependencies are the checkout's, except tsx: were
 * anything still to load TypeScript through it, the run would fail.
 */

const ROOT = resolve('.');

describe('the packed campus-energy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'campus-pack-'));
  let field: Field | undefined;
  let run: ChildProcess | undefined;

  afterAll(async () => {
    await killHard(run);
    await field?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a campus from dist/ without the TypeScript loader', async () => {
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--pack-destination', dir, '--json'], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 64 * 1024 * 1024,
      }),
    ) as { filename: string; files: { path: string }[] }[];
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/bin/cli.js');
    expect(files).toContain('dist/services/backoffice/web/public/index.html');
    expect(files.filter((f) => f.endsWith('.ts'))).toEqual([]);
    execFileSync('tar', ['xzf', join(dir, packed[0]!.filename), '-C', dir]);
    const pkg = join(dir, 'package');
    // The checkout's dependencies, one link each, without tsx.
    mkdirSync(join(pkg, 'node_modules'));
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (name === 'tsx' || name === '.bin') continue;
      symlinkSync(join(ROOT, 'node_modules', name), join(pkg, 'node_modules', name));
    }
    expect(existsSync(join(pkg, 'node_modules', 'tsx'))).toBe(false);

    field = await startField({ concentrators: [{ transport: 'modbus-tcp', meters: 2 }], pollInterval: 500 });
    const config = join(field.dir, 'campus.yaml');
    writeFileSync(config, field.yaml());
    const httpPort = await freePort();
    run = spawn(
      process.execPath,
      [
        join(pkg, 'bin', 'campus-energy.js'),
        'run',
        '-c',
        config,
        '--broker-port',
        String(await freePort()),
        '--http',
        `127.0.0.1:${httpPort}`,
        '--insecure-cookie',
        '--log-level',
        'error',
      ],
      { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const store = join(field.dir, 'store.sqlite');
    await waitFor(() => new Set(storedSeqs(store).map((r) => r.meter)).size === 2, 90_000, 'readings stored');
    let page = '';
    for (let i = 0; i < 300 && !page; i++) {
      const res = await fetch(`http://127.0.0.1:${httpPort}/`).catch(() => null);
      if (res?.ok) page = await res.text();
      else await new Promise((r) => setTimeout(r, 200));
    }
    expect(page).toMatch(/<html/i);
    run.kill('SIGTERM');
    await exited(run);
    expect(run.exitCode).toBe(0);
  }, 300_000);
});
