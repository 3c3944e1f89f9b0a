import { afterAll, afterEach, beforeAll } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import mqtt, { type MqttClient } from 'mqtt';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { validateCampus, type LoadedCampus } from '../../config/campus.ts';
import { readingTopic, type Reading } from '../../config/schemas/reading.ts';
import { buildApi } from '../../services/platform/http/app.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import { startLiveHub, type LiveHub } from '../../services/metering/live/hub.ts';
import { liveRoutes, type LiveRoutesOptions } from '../../services/metering/live/routes.ts';
import type { LiveReading } from '../../services/metering/live/types.ts';
import { backofficeMetrics, metricsRoutes } from '../../services/backoffice/metrics.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { testLogger } from '../helpers/logger.ts';

/**
 * A small campus with both kinds of source: a Modbus bus from a substation incomer down to dorm
 * rooms (one with a relay), a water meter, and an OPC UA substation with a transformer and two
 * feeders, one of which feeds a Modbus-metered building.
 */
export const RAW_CAMPUS = {
  campus: { name: 'Test University', timezone: 'Asia/Shanghai' },
  sites: [
    {
      id: 'east',
      name: 'East campus',
      gateways: [
        {
          id: 'gw1',
          buses: [
            {
              id: 'b1',
              type: 'modbus-tcp',
              host: '127.0.0.1',
              meters: [
                {
                  id: 'E-SUB1-INCOMER',
                  kind: 'electricity',
                  profile: 'schneider-iem3000',
                  unitId: 1,
                  pollInterval: '5s',
                },
                {
                  id: 'E-BLDG-A',
                  kind: 'electricity',
                  profile: 'eastron-sdm630',
                  unitId: 2,
                  pollInterval: '15s',
                  parent: 'E-SUB1-INCOMER',
                },
                {
                  id: 'E-DORM-A-101',
                  kind: 'electricity',
                  profile: 'hiking-dds238-2',
                  unitId: 3,
                  pollInterval: '30s',
                  parent: 'E-BLDG-A',
                  account: 'ROOM-A-101',
                },
                {
                  id: 'E-SHOP-1',
                  kind: 'electricity',
                  profile: 'chint-ddsu666',
                  unitId: 4,
                  parent: 'E-BLDG-A',
                  account: 'BIZ-1',
                },
                { id: 'W-BLDG-A', kind: 'water', profile: 'generic-water-meter', unitId: 5 },
                {
                  id: 'E-LAB-B',
                  kind: 'electricity',
                  profile: 'eastron-sdm630',
                  unitId: 6,
                  parent: 'SS1-F2',
                },
                {
                  id: 'E-LAB-B-2F',
                  kind: 'electricity',
                  profile: 'eastron-sdm630',
                  unitId: 7,
                  parent: 'E-LAB-B',
                },
                {
                  id: 'E-LAB-B-201',
                  kind: 'electricity',
                  profile: 'eastron-sdm120',
                  unitId: 8,
                  parent: 'E-LAB-B-2F',
                },
              ],
            },
          ],
          opcua: [
            {
              id: 'ss1',
              endpoint: 'opc.tcp://127.0.0.1:4840',
              securityMode: 'None',
              securityPolicy: 'None',
              meters: [
                {
                  id: 'SS1-T1',
                  name: 'Transformer 1',
                  kind: 'electricity',
                  pollInterval: '10s',
                  nodes: { energy_import_kwh: 'ns=2;s=T1.E' },
                },
                { id: 'SS1-F1', kind: 'electricity', parent: 'SS1-T1', nodes: { power_kw: 'ns=2;s=F1.P' } },
                { id: 'SS1-F2', kind: 'electricity', parent: 'SS1-T1', nodes: { power_kw: 'ns=2;s=F2.P' } },
                {
                  id: 'SS1-AUX',
                  name: 'Station service',
                  kind: 'electricity',
                  nodes: { power_kw: 'ns=2;s=A.P' },
                },
              ],
            },
          ],
        },
      ],
    },
  ],
};

export function testCampus(): LoadedCampus {
  const dir = mkdtempSync(join(tmpdir(), 'live-campus-'));
  return validateCampus(RAW_CAMPUS, { file: join(dir, 'campus.yaml'), dir });
}

export const ACTORS: Record<string, Actor> = {
  'tok-operator': { id: 'li.ming', kind: 'user', roles: ['operator'] },
  'tok-admin': { id: 'root', kind: 'user', roles: ['admin'] },
  'tok-supervisor': { id: 'zhao.lei', kind: 'user', roles: ['supervisor'] },
};
export const OPERATOR = { authorization: 'Bearer tok-operator' };
export const SUPERVISOR = { authorization: 'Bearer tok-supervisor' };

export const fakeAuth = {
  authenticate: (token: string): Actor => {
    const a = ACTORS[token];
    if (!a) throw new ServiceError('UNAUTHENTICATED', 401, 'session expired or unknown');
    return a;
  },
};

export function reading(meter: string, seq: number, ts: number, values: Reading['values'] = {}): Reading {
  return { meter, seq, ts, quality: 'good', values: { power_kw: 1.5, ...values } };
}

export function stored(r: Reading): StoredReading {
  return { ...r, site: 'east', gateway: 'gw1', kind: r.meter.startsWith('W-') ? 'water' : 'electricity' };
}

export interface Rig {
  campus: LoadedCampus;
  store: SqliteStore;
  hub: LiveHub;
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Store (seeded), hub and API listening on port 0, against the broker at `brokerUrl`. */
export async function startRig(opts: {
  brokerUrl: string;
  clock?: () => number;
  seed?: readonly Reading[];
  routes?: Partial<LiveRoutesOptions>;
  /** More routes on the same API (another stream, say). */
  extraRoutes?: ((app: FastifyInstance) => void)[];
}): Promise<Rig> {
  const campus = testCampus();
  const store = SqliteStore.open({ path: ':memory:' });
  if (opts.seed) await store.writeReadings(opts.seed.map(stored));
  const hub = await startLiveHub({
    campus,
    mqtt: { url: opts.brokerUrl },
    store,
    logger: testLogger(),
    flushMs: 10,
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  await hub.ready;
  const app = await buildApi({
    auth: fakeAuth,
    routes: [
      ...liveRoutes({ hub, campus, store, ...opts.routes }),
      ...metricsRoutes(backofficeMetrics({ hub })),
      ...(opts.extraRoutes ?? []),
    ],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    campus,
    store,
    hub,
    app,
    url,
    async close() {
      // fetch (undici) may hold a spare keep-alive connection that never sends a request, which
      // server.close() would wait on until the client's keep-alive timeout (4 s).
      const closing = app.close();
      app.server.closeAllConnections();
      await closing;
      await hub.stop();
      await store.close();
    },
  };
}

export async function publisher(brokerUrl: string): Promise<{
  client: MqttClient;
  reading(r: Reading): Promise<void>;
  close(): Promise<void>;
}> {
  const client = await mqtt.connectAsync(brokerUrl, { clientId: `live-test-pub-${Math.random()}` });
  return {
    client,
    reading: async (r) => {
      await client.publishAsync(readingTopic('east', 'gw1', r.meter), JSON.stringify(r), { qos: 1 });
    },
    close: () => client.endAsync(),
  };
}

/** Reads server-sent events from a fetch response, one parsed event at a time. */
export class SseReader {
  private buffer = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  readonly events: { event: string; data: string }[] = [];

  constructor(res: Response) {
    this.reader = res.body!.getReader();
  }

  /** The first event (already read or arriving) that `match` accepts, or a rejection after `ms`. */
  async next(match: (r: LiveReading) => boolean, ms = 1000): Promise<LiveReading> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.events.findIndex(
        (e) => e.event === 'reading' && match(JSON.parse(e.data) as LiveReading),
      );
      if (i >= 0) return JSON.parse(this.events.splice(0, i + 1)[i]!.data) as LiveReading;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching SSE event within ${ms} ms`);
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        this.reader.read(),
        new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), left))),
      ]);
      clearTimeout(timer);
      if (chunk === null) continue;
      if (chunk.done) throw new Error('SSE stream ended');
      this.buffer += this.decoder.decode(chunk.value, { stream: true });
      let end: number;
      while ((end = this.buffer.indexOf('\n\n')) >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length > 0) this.events.push({ event, data: data.join('\n') });
      }
    }
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => {});
  }
}

/** Parses Prometheus text exposition into `name{labels}` → value, failing on any malformed line. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$/.exec(
      line,
    );
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const value = Number(m[3]);
    if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`bad value in: ${line}`);
    out.set(`${m[1]}${m[2] ?? ''}`, value);
  }
  return out;
}

/**
 * One embedded broker per test file and the rigs a test starts, closed after each test: the
 * set-up every live test file shares. `url()` is the broker's, once started.
 */
export function brokerForFile(): { url: () => string; rigs: Rig[] } {
  let broker: EmbeddedBroker | undefined;
  const rigs: Rig[] = [];
  beforeAll(async () => {
    broker = await startEmbeddedBroker({ port: 0 });
  });
  afterEach(async () => {
    for (const r of rigs.splice(0)) await r.close();
  });
  afterAll(async () => {
    await broker?.close();
  });
  return { url: () => broker!.url, rigs };
}
