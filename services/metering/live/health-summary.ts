import type { LoadedCampus } from '../../../config/campus.ts';
import type { ReadingError } from '../../../config/schemas/reading.ts';
import type { HealthResponse, LiveReading } from './types.ts';

/**
 * The health page for the power-room operator: every meter of the campus file with the state of
 * its readings and of its polling, summed per bus and gateway, failing first, names in natural
 * order ("line1.2" before "line1.10").
 *
 * "Breaker" is the gateway's word for a device it has stopped polling after repeated failures; to
 * an operator a breaker is a switch in the substation, so this speaks of polling: `polling`,
 * `paused` (until `pausedUntil`, because of `lastError`) and `probing` (one trial poll).
 *
 * A meter inside an approved planned outage is `outage`, not failing: its supply is off on
 * purpose, so silence, errors and paused polling are expected there.
 */

export type MeterState = 'ok' | 'outage' | 'stale' | 'error' | 'nodata';
export type PollingState = 'polling' | 'paused' | 'probing' | 'unknown';

export interface MeterHealth {
  meter: string;
  name: string;
  kind: 'electricity' | 'water' | 'heat';
  site: string;
  gateway: string;
  /** The bus id, or the OPC UA device id for a meter read from a substation's SCADA. */
  bus: string;
  /** The gateway's device id: `<bus>.<unit>` on Modbus and serial lines, the device id on OPC UA. */
  device: string;
  state: MeterState;
  /** The planned outage the meter is in. */
  outage?: number;
  polling: PollingState;
  pausedUntil: number | null;
  errorRate: number | null;
  latencyMs: number | null;
  lastError: ReadingError | null;
  /** The last reading's time. */
  readingTs: number | null;
  /** Not ok and not explained by a planned outage: an operator should look. */
  failing: boolean;
}

export interface BusHealth {
  gateway: string;
  id: string;
  meters: number;
  failing: number;
  paused: number;
  outage: number;
}

export interface HealthSummary {
  gateways: (HealthResponse['gateways'][number] & { failing: boolean; failingMeters: number })[];
  buses: BusHealth[];
  /** Meters by state, and how many have polling paused. */
  counts: Record<MeterState, number> & { paused: number; failing: number };
  meters: MeterHealth[];
}

const natural = new Intl.Collator('en', { numeric: true, sensitivity: 'base' }).compare;

/** Worst first (the highest rank: true above false), then natural order of the keys. */
function failingFirst<T>(rank: (x: T) => boolean | number, ...keys: ((x: T) => string)[]) {
  return (a: T, b: T) => {
    const f = Number(rank(b)) - Number(rank(a));
    if (f !== 0) return f;
    for (const k of keys) {
      const c = natural(k(a), k(b));
      if (c !== 0) return c;
    }
    return 0;
  };
}

function stateOf(r: LiveReading | undefined): MeterState {
  if (r?.plannedOutage !== undefined) return 'outage';
  if (!r) return 'nodata';
  if (r.quality === 'error') return 'error';
  return r.stale ? 'stale' : 'ok';
}

const POLLING: Record<'closed' | 'open' | 'half-open', PollingState> = {
  closed: 'polling',
  open: 'paused',
  'half-open': 'probing',
};

export function healthSummary(
  campus: LoadedCampus,
  health: HealthResponse,
  latest: readonly LiveReading[],
): HealthSummary {
  const readings = new Map(latest.map((r) => [r.meter, r]));
  const devices = new Map(health.devices.map((d) => [`${d.gateway}/${d.device}`, d]));
  const meters: MeterHealth[] = [];
  const add = (
    m: { id: string; name?: string | undefined; kind: MeterHealth['kind'] },
    where: { site: string; gateway: string; bus: string; device: string },
  ) => {
    const r = readings.get(m.id);
    const d = devices.get(`${where.gateway}/${where.device}`);
    const state = stateOf(r);
    const polling = d ? POLLING[d.breaker] : 'unknown';
    const failing =
      state !== 'outage' &&
      (state !== 'ok' || polling === 'paused' || polling === 'probing' || (d?.errorRate ?? 0) > 0);
    meters.push({
      meter: m.id,
      name: m.name ?? m.id,
      kind: m.kind,
      ...where,
      state,
      ...(r?.plannedOutage !== undefined ? { outage: r.plannedOutage } : {}),
      polling,
      pausedUntil: d?.breaker === 'open' ? (d.pausedUntil ?? null) : null,
      errorRate: d ? d.errorRate : null,
      latencyMs: d ? d.latencyMs : null,
      lastError: d?.lastError ?? (r?.quality === 'error' ? (r.error ?? null) : null),
      readingTs: r?.ts ?? null,
      failing,
    });
  };
  for (const site of campus.config.sites) {
    for (const g of site.gateways) {
      for (const bus of g.buses) {
        for (const m of bus.meters) {
          add(m, { site: site.id, gateway: g.id, bus: bus.id, device: `${bus.id}.${m.unitId}` });
        }
      }
      for (const dev of g.opcua) {
        for (const m of dev.meters) add(m, { site: site.id, gateway: g.id, bus: dev.id, device: dev.id });
      }
    }
  }
  meters.sort(
    failingFirst(
      (m) => m.failing,
      (m) => m.gateway,
      (m) => m.device,
    ),
  );

  const buses = new Map<string, BusHealth>();
  for (const m of meters) {
    const key = `${m.gateway}/${m.bus}`;
    let b = buses.get(key);
    if (!b)
      buses.set(key, (b = { gateway: m.gateway, id: m.bus, meters: 0, failing: 0, paused: 0, outage: 0 }));
    b.meters++;
    if (m.failing) b.failing++;
    if (m.polling === 'paused' && m.state !== 'outage') b.paused++;
    if (m.state === 'outage') b.outage++;
  }

  const failingOf = new Map<string, number>();
  for (const m of meters) if (m.failing) failingOf.set(m.gateway, (failingOf.get(m.gateway) ?? 0) + 1);
  const gateways = health.gateways
    .map((g) => ({ ...g, failing: g.state !== 'online', failingMeters: failingOf.get(g.id) ?? 0 }))
    .sort(
      // A gateway down hides all its meters: before one whose meters fail.
      failingFirst(
        (g) => (g.failing ? 2 : g.failingMeters > 0 ? 1 : 0),
        (g) => g.site,
        (g) => g.id,
      ),
    );

  const counts = { ok: 0, outage: 0, stale: 0, error: 0, nodata: 0, paused: 0, failing: 0 };
  for (const m of meters) {
    counts[m.state]++;
    if (m.polling === 'paused' && m.state !== 'outage') counts.paused++;
    if (m.failing) counts.failing++;
  }
  return {
    gateways,
    buses: [...buses.values()].sort(
      failingFirst(
        (b) => b.failing > 0,
        (b) => b.gateway,
        (b) => b.id,
      ),
    ),
    counts,
    meters,
  };
}
