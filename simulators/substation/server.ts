import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  DataType,
  DataValue,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  Variant,
  type StatusCode,
} from 'node-opcua';
import type { OpcuaMeterConfig } from '../../config/schemas/campus.ts';

/**
 * A simulated substation: one OPC UA server exposing, per transformer or feeder, the six values a
 * substation SCADA gateway typically offers. Values are pulled from `values()` on every read or
 * sample, so a change in the campus model shows within one sampling interval.
 */

export interface SubstationElement {
  id: string;
  kind: 'transformer' | 'feeder';
  name?: string;
}
export interface ElementValues {
  energyImportKwh: number;
  powerKw: number;
  currentA: number;
  voltageV: number;
  pf: number;
  breakerClosed: boolean;
}
export type SubstationQuantity =
  'energy_import_kwh' | 'power_kw' | 'current_a' | 'voltage_v' | 'pf' | 'breaker_closed';
export const SUBSTATION_QUANTITIES: readonly SubstationQuantity[] = [
  'energy_import_kwh',
  'power_kw',
  'current_a',
  'voltage_v',
  'pf',
  'breaker_closed',
];
export type SimulatedStatus = 'Good' | 'UncertainLastUsableValue' | 'BadSensorFailure';

export interface SubstationOptions {
  id: string;
  /** 0/undefined: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  elements: SubstationElement[];
  /** Pulled by the server on every read and sample. */
  values: (elementId: string) => ElementValues;
  /** The server's own certificate and its trusted/rejected client certificates. */
  pkiDir: string;
  /**
   * Default all three; Basic256Sha256 for Sign and SignAndEncrypt. Without 'None' a client cannot
   * discover the endpoints (GetEndpoints runs on an unsecured channel), so it cannot connect
   * unless it already holds the server certificate: keep 'None' unless that is what you test.
   */
  securityModes?: ('None' | 'Sign' | 'SignAndEncrypt')[];
  /** Enables user/password identity. */
  users?: { username: string; password: string }[];
  /** Default true. */
  allowAnonymous?: boolean;
  /** Default 'all' (it is a simulator); 'trusted' refuses unknown client certificates. */
  trustClients?: 'all' | 'trusted';
}

export interface RunningSubstation {
  id: string;
  endpoint: string;
  port: number;
  certificateFile: string;
  nodeId(elementId: string, quantity: SubstationQuantity): string;
  /** Browse path from Objects, as a campus file writes it: /1:SUB1/1:T1/1:power_kw. */
  browsePath(elementId: string, quantity: SubstationQuantity): string;
  /** What the server reports as the status of one value from now on (tests). */
  setStatus(elementId: string, quantity: SubstationQuantity, status: SimulatedStatus): void;
  stop(): Promise<void>;
}

function pick(v: ElementValues, q: SubstationQuantity): number | boolean {
  switch (q) {
    case 'energy_import_kwh':
      return v.energyImportKwh;
    case 'power_kw':
      return v.powerKw;
    case 'current_a':
      return v.currentA;
    case 'voltage_v':
      return v.voltageV;
    case 'pf':
      return v.pf;
    case 'breaker_closed':
      return v.breakerClosed;
  }
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function startSubstation(opts: SubstationOptions): Promise<RunningSubstation> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port || (await freePort(host));
  const modes = opts.securityModes ?? ['None', 'Sign', 'SignAndEncrypt'];
  const statuses = new Map<string, StatusCode>();
  const key = (elementId: string, q: SubstationQuantity) => `${opts.id}.${elementId}.${q}`;

  const serverCertificateManager = new OPCUACertificateManager({
    rootFolder: opts.pkiDir,
    automaticallyAcceptUnknownCertificate: (opts.trustClients ?? 'all') === 'all',
    disableFileWatchers: true,
  });
  await serverCertificateManager.initialize();
  const users = opts.users ?? [];
  const server = new OPCUAServer({
    port,
    hostname: host,
    host,
    resourcePath: '',
    serverCertificateManager,
    securityModes: modes.map((m) => MessageSecurityMode[m]),
    securityPolicies: [
      ...(modes.includes('None') ? [SecurityPolicy.None] : []),
      ...(modes.some((m) => m !== 'None') ? [SecurityPolicy.Basic256Sha256] : []),
    ],
    allowAnonymous: opts.allowAnonymous ?? true,
    userManager: {
      isValidUser: (username: string, password: string) =>
        users.some((u) => u.username === username && u.password === password),
    },
    buildInfo: { productName: `campus-energy substation simulator ${opts.id}`, softwareVersion: '1' },
    serverInfo: { applicationUri: `urn:campus-energy:substation:${opts.id}` },
    disableDiscovery: true,
  });
  await server.initialize();

  const addressSpace = server.engine.addressSpace!;
  const ns = addressSpace.getOwnNamespace();
  const root = ns.addObject({
    organizedBy: addressSpace.rootFolder.objects,
    browseName: opts.id,
    nodeId: `s=${opts.id}`,
  });
  for (const el of opts.elements) {
    const obj = ns.addObject({
      componentOf: root,
      browseName: el.id,
      nodeId: `s=${opts.id}.${el.id}`,
      description: el.name ?? `${el.kind} ${el.id}`,
    });
    for (const q of SUBSTATION_QUANTITIES) {
      const isBool = q === 'breaker_closed';
      ns.addVariable({
        componentOf: obj,
        browseName: q,
        nodeId: `s=${key(el.id, q)}`,
        dataType: isBool ? 'Boolean' : 'Double',
        minimumSamplingInterval: 50,
        value: {
          timestamped_get: () => {
            const now = new Date();
            const statusCode = statuses.get(key(el.id, q)) ?? StatusCodes.Good;
            const value = pick(opts.values(el.id), q);
            return new DataValue({
              value: new Variant({ dataType: isBool ? DataType.Boolean : DataType.Double, value }),
              statusCode,
              sourceTimestamp: now,
              serverTimestamp: now,
            });
          },
        },
      });
    }
  }
  await server.start();

  const endpoint = `opc.tcp://${host}:${port}`;
  return {
    id: opts.id,
    endpoint,
    port,
    certificateFile: server.certificateFile,
    nodeId: (elementId, quantity) => `ns=1;s=${key(elementId, quantity)}`,
    browsePath: (elementId, quantity) => `/1:${opts.id}/1:${elementId}/1:${quantity}`,
    setStatus: (elementId, quantity, status) => {
      statuses.set(key(elementId, quantity), StatusCodes[status]);
    },
    stop: async () => {
      await server.shutdown(0);
      await serverCertificateManager.dispose();
    },
  };
}

/** One meter per element with all six quantities: the `meters` of an OPC UA device config. */
export function substationMeters(
  running: Pick<RunningSubstation, 'id' | 'nodeId'>,
  elements: readonly SubstationElement[],
  pollInterval = 60_000,
): OpcuaMeterConfig[] {
  return elements.map((el) => ({
    id: `${running.id}-${el.id}`,
    kind: 'electricity',
    pollInterval,
    ...(el.name ? { name: el.name } : {}),
    nodes: Object.fromEntries(SUBSTATION_QUANTITIES.map((q) => [q, { nodeId: running.nodeId(el.id, q) }])),
  }));
}

/** The server's PKI folder inside a simulator data folder (one per substation). */
export function substationPkiDir(dataDir: string, id: string): string {
  return join(dataDir, `${id}-pki`);
}
