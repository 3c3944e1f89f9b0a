import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { freePort } from '../helpers/ports.ts';
import { leanCampusFile, modulesLoadedUntil } from '../helpers/module-trace.ts';

/**
 * `campus-energy backoffice` loads the back office, not the whole CLI: under `campus-energy run` a
 * back office that crashed is restarted alone, and the API is down for as long as it takes to load.
 * Started as operators start it (bin/campus-energy.js) with the loader hook that lists every module
 * loaded; the list is read once the back office says it started.
 */

const dirs: string[] = [];
let broker: EmbeddedBroker | undefined;
afterAll(async () => {
  await broker?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('campus-energy backoffice loads only what the back office uses', () => {
  it('neither the simulators, the gateway nor the field protocols', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lean-backoffice-'));
    dirs.push(dir);
    broker = await startEmbeddedBroker({ port: 0 });
    const campusFile = leanCampusFile(dir, { mqttUrl: broker.url });
    const http = `127.0.0.1:${await freePort()}`;
    const { packages, own } = await modulesLoadedUntil(
      dir,
      ['backoffice', '-c', campusFile, '--http', http],
      'back office started',
    );
    // The trace works: the back office's own modules and its packages are in it.
    expect(own.filter((u) => u.includes('/services/backoffice/')).length).toBeGreaterThan(0);
    expect(packages).toContain('fastify');
    for (const name of ['modbus-serial', 'node-opcua', 'aedes', 'serialport'])
      expect([...packages].filter((p) => p.startsWith(name))).toEqual([]);
    const foreign = own.filter((u) =>
      /\/(simulators|bin\/(cli|demo|run-cli|gateway-cli|ingest-cli)\.ts)/.test(u),
    );
    expect(foreign).toEqual([]);
  }, 120_000);
});
