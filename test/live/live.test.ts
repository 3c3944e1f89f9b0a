import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { AlertStore } from '../../services/inspection/detection/alerts.ts';
import { alertRoutes } from '../../services/inspection/detection/service.ts';
import { describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { deviceHealthTopic, statusTopic } from '../../config/schemas/reading.ts';
import { floorToStep } from '../../services/metering/consumption/zone.ts';
import type { LiveReading } from '../../services/metering/live/types.ts';
import {
  brokerForFile,
  OPERATOR,
  parseMetrics,
  publisher,
  reading,
  SseReader,
  SUPERVISOR,
  startRig,
  type Rig,
} from './support.ts';

const { url: brokerUrl, rigs } = brokerForFile();

async function rig(opts: Omit<Parameters<typeof startRig>[0], 'brokerUrl'> = {}): Promise<Rig> {
  const r = await startRig({ brokerUrl: brokerUrl(), ...opts });
  rigs.push(r);
  return r;
}

const get = (r: Rig, path: string, headers: Record<string, string> = OPERATOR) =>
  fetch(`${r.url}${path}`, { headers });

async function until<T>(f: () => Promise<T | undefined> | T | undefined, ms = 1000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('live view over MQTT, HTTP and SSE', () => {
  it('a published reading shows in /api/readings/latest and is pushed on the stream within 1 s', async () => {
    const r = await rig();
    const res = await get(r, '/api/readings/stream?meters=E-BLDG-A,E-SHOP-1');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const sse = new SseReader(res);
    const pub = await publisher(brokerUrl());
    try {
      const t0 = Date.now();
      await pub.reading(reading('E-BLDG-A', 7, t0, { energy_import_kwh: 1234.5 }));
      // Another meter's reading is not sent to a client that did not ask for it.
      await pub.reading(reading('E-DORM-A-101', 1, t0));
      const pushed = await sse.next((e) => e.meter === 'E-BLDG-A' && e.seq === 7, 1000);
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(pushed).toMatchObject({
        ts: t0,
        quality: 'good',
        stale: false,
        values: { energy_import_kwh: 1234.5 },
      });
      const latest = await until(async () => {
        const list = (await (await get(r, '/api/readings/latest?meters=E-BLDG-A')).json()) as LiveReading[];
        return list.length > 0 ? list : undefined;
      });
      expect(latest).toEqual([pushed]);
      await pub.reading(reading('E-SHOP-1', 3, t0 + 1));
      const next = await sse.next((e) => e.meter === 'E-SHOP-1');
      expect(next.seq).toBe(3);
      expect(sse.events.map((e) => JSON.parse(e.data).meter)).not.toContain('E-DORM-A-101');
      // All meters when none are named, in campus-file order.
      const all = (await (await get(r, '/api/readings/latest')).json()) as LiveReading[];
      expect(all.map((x) => x.meter)).toEqual(['E-BLDG-A', 'E-DORM-A-101', 'E-SHOP-1']);
    } finally {
      await sse.cancel();
      await pub.close();
    }
  });

  it('starts from the store, sends current readings first, and never goes back in time', async () => {
    const now = Date.now();
    const r = await rig({ seed: [reading('E-BLDG-A', 40, now - 1000), reading('E-BLDG-A', 41, now - 500)] });
    expect(r.hub.latest(['E-BLDG-A'])[0]).toMatchObject({ seq: 41 });
    const sse = new SseReader(await get(r, '/api/readings/stream?meters=E-BLDG-A'));
    expect((await sse.next(() => true)).seq).toBe(41);
    const pub = await publisher(brokerUrl());
    try {
      // A replayed older reading and a repeated one change nothing; the next one does.
      await pub.reading(reading('E-BLDG-A', 39, now - 2000));
      await pub.reading(reading('E-BLDG-A', 41, now - 500));
      await pub.reading(reading('E-BLDG-A', 42, now));
      expect((await sse.next(() => true)).seq).toBe(42);
      expect(r.hub.stats()).toMatchObject({ received: 3, applied: 1 });
    } finally {
      await sse.cancel();
      await pub.close();
    }
  });

  it('closing the API ends open streams instead of waiting for their clients', async () => {
    const r = await startRig({ brokerUrl: brokerUrl() });
    const sse = new SseReader(await get(r, '/api/readings/stream'));
    await until(() => (r.hub.stats().clients === 1 ? true : undefined));
    const closing = r.app.close();
    await expect(sse.next(() => false, 2000)).rejects.toThrow(/ended/);
    r.app.server.closeAllConnections();
    await closing;
    expect(r.hub.stats().clients).toBe(0);
    await r.hub.stop();
    await r.store.close();
  });

  it('shutdown ends both event streams, live readings and alerts, and finishes within 5 s with their clients connected', async () => {
    const db = openBackofficeDb(':memory:');
    const alerts = new AlertStore(db, new AuditLog(db));
    const r = await startRig({ brokerUrl: brokerUrl(), extraRoutes: alertRoutes(alerts) });
    const live = new SseReader(await get(r, '/api/readings/stream', SUPERVISOR));
    const inbox = new SseReader(await get(r, '/api/alerts/stream', SUPERVISOR));
    await until(() => (r.hub.stats().clients === 1 ? true : undefined));
    const started = Date.now();
    await r.app.close();
    expect(Date.now() - started).toBeLessThan(5000);
    await expect(live.next(() => false, 2000)).rejects.toThrow(/ended/);
    await expect(inbox.next(() => false, 2000)).rejects.toThrow(/ended/);
    expect(r.hub.stats().clients).toBe(0);
    await r.hub.stop();
    await r.store.close();
    db.close();
  });

  it('ignores unknown meters, readings from the wrong gateway and invalid payloads, counting them', async () => {
    const r = await rig();
    const client = await mqtt.connectAsync(brokerUrl());
    try {
      const now = Date.now();
      await client.publishAsync(
        'campus/v1/east/gw1/E-NOPE/reading',
        JSON.stringify(reading('E-NOPE', 1, now)),
      );
      await client.publishAsync(
        'campus/v1/east/gw9/E-BLDG-A/reading',
        JSON.stringify(reading('E-BLDG-A', 1, now)),
      );
      await client.publishAsync('campus/v1/east/gw1/E-BLDG-A/reading', '{"meter":"E-BLDG-A"}');
      await client.publishAsync('campus/v1/east/gw1/E-BLDG-A/reading', 'not json');
      await until(() => (r.hub.stats().rejected === 4 ? true : undefined));
      expect(r.hub.latest()).toEqual([]);
    } finally {
      await client.endAsync();
    }
  });

  it('marks a meter stale after 3 poll intervals without a reading (injected clock) and pushes it', async () => {
    let now = Date.now();
    const r = await rig({ clock: () => now });
    const sse = new SseReader(await get(r, '/api/readings/stream'));
    const pub = await publisher(brokerUrl());
    try {
      // E-BLDG-A polls every 15 s; W-BLDG-A has the default 60 s.
      await pub.reading(reading('E-BLDG-A', 1, now));
      await pub.reading(reading('W-BLDG-A', 1, now, { volume_m3: 12 }));
      await sse.next((e) => e.meter === 'W-BLDG-A');
      now += 45_000;
      expect(r.hub.latest().map((x) => x.stale)).toEqual([false, false]);
      expect(r.hub.checkStale()).toBe(0);
      now += 1;
      expect(r.hub.latest().map((x) => [x.meter, x.stale])).toEqual([
        ['E-BLDG-A', true],
        ['W-BLDG-A', false],
      ]);
      expect(r.hub.checkStale()).toBe(1);
      expect(await sse.next((e) => e.meter === 'E-BLDG-A')).toMatchObject({ stale: true, seq: 1 });
      // A fresh reading makes it current again.
      await pub.reading(reading('E-BLDG-A', 2, now));
      expect(await sse.next((e) => e.meter === 'E-BLDG-A')).toMatchObject({ stale: false, seq: 2 });
      now += 180_001;
      const api = (await (await get(r, '/api/readings/latest?meters=W-BLDG-A')).json()) as LiveReading[];
      expect(api[0]!.stale).toBe(true);
    } finally {
      await sse.cancel();
      await pub.close();
    }
  });

  it("today is the latest register minus the day's first register in the store (local midnight)", async () => {
    // 12:00 in Shanghai; local midnight is 16:00 UTC the day before.
    let now = Date.UTC(2026, 10, 27, 4, 0);
    const midnight = floorToStep(now, '1d', 'Asia/Shanghai');
    expect(midnight).toBe(Date.UTC(2026, 10, 26, 16, 0));
    const r = await rig({
      clock: () => now,
      seed: [
        reading('E-BLDG-A', 1, midnight - 60_000, { energy_import_kwh: 90 }),
        reading('E-BLDG-A', 2, midnight + 5 * 60_000, { energy_import_kwh: 100.1 }),
        reading('E-BLDG-A', 3, midnight + 3 * 3_600_000, { energy_import_kwh: 104 }),
        reading('E-BLDG-A', 4, now - 60_000, { energy_import_kwh: 110.3 }),
        // Water counts in m³; first of its day found in a later window (06:00).
        reading('W-BLDG-A', 1, midnight + 6 * 3_600_000, { volume_m3: 50 }),
        reading('W-BLDG-A', 2, now - 60_000, { volume_m3: 52.5 }),
        // Only yesterday: nothing today yet.
        reading('E-SHOP-1', 1, midnight - 3_600_000, { energy_import_kwh: 7 }),
      ],
    });
    await r.hub.settled();
    const today = () => Object.fromEntries(r.hub.latest().map((x) => [x.meter, x.today]));
    expect(today()).toEqual({ 'E-BLDG-A': 10.2, 'E-SHOP-1': null, 'W-BLDG-A': 2.5 });
    const sse = new SseReader(await get(r, '/api/readings/stream?meters=E-BLDG-A,E-SHOP-1'));
    const pub = await publisher(brokerUrl());
    try {
      await pub.reading(reading('E-BLDG-A', 5, now, { energy_import_kwh: 112.6 }));
      expect(await sse.next((e) => e.seq === 5)).toMatchObject({ today: 12.5 });
      // The first reading of the day the hub sees itself counts from there once the store is asked.
      now += 1000;
      await pub.reading(reading('E-SHOP-1', 2, now, { energy_import_kwh: 8 }));
      await pub.reading(reading('E-SHOP-1', 3, now + 1, { energy_import_kwh: 8.25 }));
      expect(await sse.next((e) => e.meter === 'E-SHOP-1' && e.seq === 3 && e.today != null)).toMatchObject({
        today: 0.25,
      });
      // An error reading keeps the day's figure from the last good register.
      await pub.client.publishAsync(
        'campus/v1/east/gw1/E-BLDG-A/reading',
        JSON.stringify({
          meter: 'E-BLDG-A',
          seq: 6,
          ts: now + 2,
          quality: 'error',
          values: {},
          error: { code: 'MODBUS_TIMEOUT', message: 'no answer' },
        }),
      );
      expect(await sse.next((e) => e.seq === 6)).toMatchObject({ quality: 'error', today: 12.5 });
      // After midnight, yesterday's registers say nothing about the new day.
      now = midnight + 86_400_000 + 1;
      r.hub.checkStale();
      expect(today()['E-BLDG-A']).toBeNull();
    } finally {
      await sse.cancel();
      await pub.close();
    }
  });

  it('health from retained gateway status and device health topics', async () => {
    const client = await mqtt.connectAsync(brokerUrl());
    const ts = Date.now();
    try {
      await client.publishAsync(
        statusTopic('east', 'gw1'),
        JSON.stringify({
          gateway: 'gw1',
          state: 'online',
          ts,
          meters: 12,
          outbox: { messages: 3, bytes: 900, oldestTs: ts - 10, dropped: 0 },
        }),
        { qos: 1, retain: true },
      );
      await client.publishAsync(
        deviceHealthTopic('east', 'gw1', 'b1.3'),
        JSON.stringify({
          device: 'b1.3',
          ts,
          breaker: 'open',
          latencyMs: null,
          polls: 10,
          errors: 4,
          errorRate: 0.4,
          lastError: { code: 'MODBUS_TIMEOUT', message: 'no answer within 1000 ms' },
        }),
        { qos: 1, retain: true },
      );
      // Retained: a hub started afterwards still learns them.
      const r = await rig();
      const health = await until(async () => {
        const h = await (await get(r, '/api/health')).json();
        return h.devices.length > 0 ? h : undefined;
      });
      expect(health).toEqual({
        gateways: [
          {
            id: 'gw1',
            site: 'east',
            state: 'online',
            ts,
            meters: 12,
            outbox: { messages: 3, bytes: 900, oldestTs: ts - 10, dropped: 0 },
          },
        ],
        devices: [
          {
            gateway: 'gw1',
            device: 'b1.3',
            breaker: 'open',
            errorRate: 0.4,
            latencyMs: null,
            lastError: { code: 'MODBUS_TIMEOUT', message: 'no answer within 1000 ms' },
            ts,
          },
        ],
      });
      // The last will turns it offline.
      await client.publishAsync(
        statusTopic('east', 'gw1'),
        JSON.stringify({ gateway: 'gw1', state: 'offline', ts }),
        {
          qos: 1,
          retain: true,
        },
      );
      await until(() => (r.hub.health().gateways[0]!.state === 'offline' ? true : undefined));
    } finally {
      await client.publishAsync(statusTopic('east', 'gw1'), '', { qos: 1, retain: true });
      await client.publishAsync(deviceHealthTopic('east', 'gw1', 'b1.3'), '', { qos: 1, retain: true });
      await client.endAsync();
    }
  });

  it('401 without a session and 403 without readings.view on every live route', async () => {
    const r = await rig();
    const paths = [
      '/api/campus/tree',
      '/api/readings/latest',
      '/api/readings/series?meter=E-BLDG-A&quantity=power_kw',
      '/api/readings/stream',
      '/api/health',
      '/api/vee/intervals?meter=E-BLDG-A&quantity=energy_import_kwh&from=0&to=1000',
      '/api/balance?node=E-BLDG-A',
    ];
    for (const p of paths) {
      const none = await get(r, p, {});
      expect([p, none.status]).toEqual([p, 401]);
      expect((await none.json()).code).toBe('UNAUTHENTICATED');
      expect([p, (await get(r, p, { authorization: 'Bearer tok-expired' })).status]).toEqual([p, 401]);
      expect([p, (await get(r, p, { authorization: 'Bearer tok-admin' })).status]).toEqual([p, 403]);
    }
    expect((await get(r, '/api/campus/tree')).status).toBe(200);
    // The OpenAPI document lists them.
    const doc = await (await get(r, '/openapi.json')).json();
    for (const p of paths) expect(Object.keys(doc.paths)).toContain(p.split('?')[0]);
  });

  it('series: points from the store, decimated to the cap keeping extremes; errors are coded', async () => {
    const t0 = Date.UTC(2026, 0, 1);
    const seed = Array.from({ length: 1000 }, (_, i) =>
      reading('E-BLDG-A', i + 1, t0 + i * 60_000, { power_kw: i === 500 ? 99 : 1 + (i % 3) }),
    );
    const r = await rig({ seed, routes: { maxSeriesPoints: 100 } });
    const q = `/api/readings/series?meter=E-BLDG-A&quantity=power_kw&from=${t0}&to=${t0 + 20 * 60_000}`;
    const small = await (await get(r, q)).json();
    expect(small.points).toHaveLength(20);
    expect(small.points[0]).toEqual([t0, 1]);
    expect(small.decimated).toBeUndefined();
    const all = await (
      await get(r, `/api/readings/series?meter=E-BLDG-A&quantity=power_kw&from=${t0}&to=${t0 + 1e9}`)
    ).json();
    expect(all).toMatchObject({ meter: 'E-BLDG-A', quantity: 'power_kw', decimated: true, total: 1000 });
    expect(all.points.length).toBeLessThanOrEqual(100);
    expect(all.points).toContainEqual([t0 + 500 * 60_000, 99]);
    const ts = all.points.map((p: [number, number]) => p[0]);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    const unknown = await get(r, '/api/readings/series?meter=E-NOPE&quantity=power_kw');
    expect([unknown.status, (await unknown.json()).code]).toEqual([404, 'UNKNOWN_METER']);
    const empty = await get(r, `/api/readings/series?meter=E-BLDG-A&quantity=power_kw&from=5&to=5`);
    expect([empty.status, (await empty.json()).code]).toEqual([400, 'INVALID_RANGE']);
    const bad = await get(r, '/api/readings/series?meter=E-BLDG-A&quantity=watts');
    expect([bad.status, (await bad.json()).code]).toEqual([400, 'INVALID_REQUEST']);
    const stream = await get(r, '/api/readings/stream?meters=E-NOPE');
    expect([stream.status, (await stream.json()).code]).toEqual([404, 'UNKNOWN_METER']);
  });

  it('VEE intervals when the back office has VEE, 503 when not', async () => {
    const calls: unknown[] = [];
    const r = await rig({
      routes: {
        vee: {
          intervals: async (q) => {
            calls.push(q);
            return [];
          },
        },
      },
    });
    const res = await get(
      r,
      '/api/vee/intervals?meter=E-BLDG-A&quantity=energy_import_kwh&from=0&to=86400000&step=1d',
    );
    expect(res.status).toBe(200);
    expect(calls).toEqual([
      { meter: 'E-BLDG-A', quantity: 'energy_import_kwh', from: 0, to: 86_400_000, step: '1d' },
    ]);
    const long = await get(
      r,
      `/api/vee/intervals?meter=E-BLDG-A&quantity=energy_import_kwh&from=0&to=${40 * 86_400_000}`,
    );
    expect((await long.json()).code).toBe('INVALID_RANGE');
    const without = await rig();
    const off = await get(without, '/api/vee/intervals?meter=E-BLDG-A&quantity=volume_m3&from=0&to=1000');
    expect([off.status, (await off.json()).code]).toEqual([503, 'VEE_UNAVAILABLE']);
  });

  it('/metrics is public Prometheus text that moves when readings arrive and clients connect', async () => {
    const r = await rig();
    const scrape = async () => {
      const res = await fetch(`${r.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      return parseMetrics(await res.text());
    };
    const before = await scrape();
    expect(before.get('campus_energy_live_readings_received_total')).toBe(0);
    expect(before.get('campus_energy_live_sse_clients')).toBe(0);
    expect(before.get('campus_energy_live_mqtt_connected')).toBe(1);
    expect(before.get('campus_energy_process_resident_memory_bytes{component="backoffice"}')).toBeGreaterThan(
      0,
    );
    const sse = new SseReader(await get(r, '/api/readings/stream'));
    const pub = await publisher(brokerUrl());
    try {
      await pub.reading(reading('E-BLDG-A', 1, Date.now()));
      await pub.reading(reading('E-SHOP-1', 1, Date.now()));
      await sse.next((e) => e.meter === 'E-SHOP-1');
      const after = await scrape();
      expect(after.get('campus_energy_live_readings_received_total')).toBe(2);
      expect(after.get('campus_energy_live_meters')).toBe(2);
      expect(after.get('campus_energy_live_sse_clients')).toBe(1);
      expect(after.get('campus_energy_live_sse_events_sent_total')).toBe(2);
    } finally {
      await sse.cancel();
      await pub.close();
    }
    await until(async () =>
      (await scrape()).get('campus_energy_live_sse_clients') === 0 ? true : undefined,
    );
  });
});
