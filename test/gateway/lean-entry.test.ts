import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.ts';
import { leanCampusFile, modulesLoadedUntil, type LoadedModules } from '../helpers/module-trace.ts';

/**
 * `campus-energy gateway` loads what a gateway uses and nothing else (issue 16 item 2: RSS at
 * 10,000 meters). The command runs as operators run it, through bin/campus-energy.js, with a hook
 * that lists every module loaded; the list is read once the gateway has started.
 */

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Packages a gateway never needs: the back office, ingest's stores, mail, the simulators' broker. */
const NEVER = ['fastify', '@fastify/', 'nodemailer', 'mailparser', 'influx', 'aedes', 'uplot'];

interface GatewaySpec {
  buses?: unknown[];
  opcua?: unknown[];
}

/** Starts the gateway command on a one-gateway campus, waits for it to start, stops it: what loaded. */
async function modulesLoadedBy(spec: GatewaySpec, ready = 'gateway started'): Promise<LoadedModules> {
  const dir = mkdtempSync(join(tmpdir(), 'lean-gw-'));
  dirs.push(dir);
  const campusFile = leanCampusFile(dir, { gateway: { buses: spec.buses ?? [], opcua: spec.opcua ?? [] } });
  // Nothing listens on the broker's port: the gateway starts, retries the broker, and is stopped.
  const mqttPort = await freePort();
  return modulesLoadedUntil(
    dir,
    ['gateway', '-c', campusFile, '-g', 'gw1', '--mqtt', `mqtt://127.0.0.1:${mqttPort}`],
    ready,
  );
}

describe('campus-energy gateway loads only what a gateway uses', () => {
  it('a Modbus gateway loads neither node-opcua nor the back office', async () => {
    const busPort = await freePort();
    const { packages, own } = await modulesLoadedBy({
      buses: [
        {
          id: 'b1',
          type: 'modbus-tcp',
          host: '127.0.0.1',
          port: busPort,
          meters: [{ id: 'M1', kind: 'electricity', profile: 'eastron-sdm630', unitId: 1 }],
        },
      ],
    });
    // The trace works: what a Modbus gateway needs is in it.
    expect(packages).toContain('mqtt');
    expect(packages).toContain('better-sqlite3');
    expect(packages).not.toContain('node-opcua');
    // Modbus TCP and RTU over TCP are on node:net: modbus-serial and serialport (10 MB of RSS, its
    // native binding) come only with a serial line (next test).
    expect(packages).not.toContain('modbus-serial');
    expect(packages).not.toContain('serialport');
    for (const name of NEVER) expect([...packages].filter((p) => p.startsWith(name))).toEqual([]);
    // Nor the product's own back office, ingest or simulators.
    const foreign = own.filter((u) => /\/(services\/(backoffice|money|inspection)|simulators)\//.test(u));
    expect(foreign).toEqual([]);
    expect(own.filter((u) => /services\/metering\/ingest\//.test(u))).toEqual([]);
  }, 120_000);

  it('a gateway with a serial RS-485 line loads modbus-serial (the check can fail)', async () => {
    const { packages } = await modulesLoadedBy(
      {
        buses: [
          {
            id: 'rs485',
            type: 'modbus-rtu',
            path: '/dev/campus-energy-no-such-port',
            baudRate: 9600,
            parity: 'even',
            dataBits: 8,
            stopBits: 1,
            meters: [{ id: 'M1', kind: 'electricity', profile: 'eastron-sdm630', unitId: 1 }],
          },
        ],
        // The port is opened by the first poll, after the start: read the trace once it has failed.
      },
      'bus connect failed',
    );
    // (serialport comes with it through require, which the trace of ES modules does not list.)
    expect(packages).toContain('modbus-serial');
  }, 120_000);

  it('a gateway with an OPC UA substation loads node-opcua (the check can fail)', async () => {
    const opcuaPort = await freePort();
    const { packages } = await modulesLoadedBy({
      opcua: [
        {
          id: 'sub1',
          endpoint: `opc.tcp://127.0.0.1:${opcuaPort}/UA`,
          securityMode: 'None',
          securityPolicy: 'None',
        },
      ],
    });
    expect(packages).toContain('node-opcua');
  }, 120_000);
});
