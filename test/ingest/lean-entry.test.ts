import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.ts';
import { leanCampusFile, modulesLoadedUntil } from '../helpers/module-trace.ts';

/**
 * `campus-energy ingest` loads what ingest uses, not the whole CLI: `campus-energy run` restarts a
 * killed ingest, and readings wait in the gateways' outboxes for as long as it takes to load.
 * Started as operators start it (bin/campus-energy.js) with the loader hook that lists every
 * module loaded; the list is read once ingest says it is connecting.
 */

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('campus-energy ingest loads only what ingest uses', () => {
  it('neither the back office, the gateway, the simulators nor their packages', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lean-ingest-'));
    dirs.push(dir);
    // Nothing listens on the broker's port: ingest starts, says it is connecting, and is stopped.
    const campusFile = leanCampusFile(dir, { mqttUrl: `mqtt://127.0.0.1:${await freePort()}` });
    const { packages, own } = await modulesLoadedUntil(
      dir,
      ['ingest', '-c', campusFile],
      'ingest connecting',
    );
    // The trace works: ingest's own modules and its packages are in it.
    expect(own.filter((u) => u.includes('/services/metering/ingest/')).length).toBeGreaterThan(0);
    expect(packages).toContain('mqtt');
    expect(packages).toContain('better-sqlite3');
    for (const name of [
      'fastify',
      '@fastify/',
      'nodemailer',
      'mailparser',
      'modbus-serial',
      'node-opcua',
      'aedes',
    ])
      expect([...packages].filter((p) => p.startsWith(name))).toEqual([]);
    const foreign = own.filter((u) =>
      /\/(services\/(backoffice|money|inspection|operations)|simulators|gateway\/(?!log\.ts))/.test(u),
    );
    expect(foreign).toEqual([]);
  }, 120_000);
});
