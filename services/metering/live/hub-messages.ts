import type { Logger } from 'pino';
import type { LoadedCampus } from '../../../config/campus.ts';
import {
  DeviceHealthSchema,
  GatewayStatusSchema,
  ReadingSchema,
  type DeviceHealth,
  type GatewayStatus,
} from '../../../config/schemas/reading.ts';
import type { Clock } from '../../platform/db.ts';
import { RateWindow } from '../../platform/metrics/exposition.ts';
import type { LiveMeters } from './hub-meters.ts';
import type { HealthResponse } from './types.ts';

/**
 * What the live view makes of each MQTT message: readings to its meters, gateway statuses and
 * device health to the health view. Readings of meters the campus file does not list, from the
 * wrong gateway, or not matching the schema are not shown and are counted.
 */
export class LiveMessages {
  readonly counters = { received: 0, applied: 0, rejected: 0 };
  readonly rate: RateWindow;
  private readonly statuses = new Map<string, { site: string; status: GatewayStatus }>();
  private readonly devices = new Map<string, { gateway: string; health: DeviceHealth }>();

  constructor(
    private readonly meters: LiveMeters,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.rate = new RateWindow(10, clock);
  }

  handle(topic: string, payload: Buffer): void {
    const parts = topic.split('/');
    // campus/v1/<site>/<gateway>/...
    const [, , site, gateway] = parts;
    if (!site || !gateway) return;
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      // An empty retained payload clears a retained topic: forget what it said.
      if (payload.length === 0 && parts.length === 5) this.statuses.delete(gateway);
      else if (payload.length === 0 && parts.length === 7) this.devices.delete(`${gateway}/${parts[5]}`);
      else this.reject(topic, 'not JSON');
      return;
    }
    if (parts.length === 6 && parts[5] === 'reading') this.reading(topic, parts, json);
    else if (parts.length === 5 && parts[4] === 'status') {
      const parsed = GatewayStatusSchema.safeParse(json);
      if (!parsed.success) return this.reject(topic, 'not a gateway status');
      this.statuses.set(gateway, { site, status: parsed.data });
    } else if (parts.length === 7 && parts[4] === 'device' && parts[6] === 'health') {
      const parsed = DeviceHealthSchema.safeParse(json);
      if (!parsed.success) return this.reject(topic, 'not a device health');
      this.devices.set(`${gateway}/${parts[5]}`, { gateway, health: parsed.data });
    }
  }

  /** Every gateway of the campus file (and any other that reported) with its devices' health. */
  health(campus: LoadedCampus): HealthResponse {
    const gateways: HealthResponse['gateways'] = [];
    const seen = new Set<string>();
    const add = (id: string, site: string) => {
      seen.add(id);
      const st = this.statuses.get(id)?.status;
      gateways.push({
        id,
        site,
        state: st?.state ?? 'unknown',
        ts: st?.ts ?? null,
        ...(st?.meters !== undefined ? { meters: st.meters } : {}),
        ...(st?.outbox ? { outbox: st.outbox } : {}),
      });
    };
    for (const site of campus.config.sites) for (const g of site.gateways) add(g.id, site.id);
    for (const [id, { site }] of this.statuses) if (!seen.has(id)) add(id, site);
    const devices = [...this.devices.values()]
      .map(({ gateway, health: h }) => ({
        gateway,
        device: h.device,
        breaker: h.breaker,
        ...(h.pausedUntil !== undefined ? { pausedUntil: h.pausedUntil } : {}),
        errorRate: h.errorRate,
        latencyMs: h.latencyMs,
        lastError: h.lastError,
        ts: h.ts,
      }))
      .sort((a, b) => a.gateway.localeCompare(b.gateway) || a.device.localeCompare(b.device));
    return { gateways, devices };
  }

  private reading(topic: string, parts: string[], json: unknown): void {
    const parsed = ReadingSchema.safeParse(json);
    if (!parsed.success) return this.reject(topic, 'not a reading');
    const r = parsed.data;
    const info = this.meters.known.get(r.meter);
    if (!info || r.meter !== parts[4] || info.site !== parts[2] || info.gateway !== parts[3]) {
      return this.reject(topic, 'meter unknown or published by the wrong gateway');
    }
    const now = this.clock();
    this.counters.received++;
    this.rate.add(1, now);
    if (this.meters.take(info, r, now)) this.counters.applied++;
  }

  private reject(topic: string, why: string): void {
    this.counters.rejected++;
    this.log.debug({ topic, why }, 'live view ignored a message');
  }
}
