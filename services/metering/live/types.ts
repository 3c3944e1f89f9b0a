import type { Quantity } from '../../../config/schemas/quantities.ts';
import type { ReadingError } from '../../../config/schemas/reading.ts';

/**
 * What the operators' screens read: the campus as a tree, each meter's latest reading with
 * today's energy, and live updates. Served by the back office (services/metering/live/routes.ts) and
 * consumed by the web app (services/backoffice/web/). JSON over HTTP; times UTC ms; the web app displays
 * them in `timezone`.
 */

export type NodeRole =
  'substation' | 'transformer' | 'feeder' | 'building' | 'floor' | 'room' | 'unit' | 'meter';

export interface TreeNode {
  /** The meter id (every node of the tree is a meter, or a substation/OPC UA device grouping). */
  id: string;
  name: string;
  kind: 'electricity' | 'water' | 'heat' | 'group';
  role: NodeRole;
  site: string;
  gateway: string;
  parent: string | null;
  children: string[];
  /** Prepaid relay present (the meter's profile has one). */
  relay: boolean;
  account?: string;
}

/** GET /api/campus/tree */
export interface CampusTree {
  campus: string;
  timezone: string;
  sites: { id: string; name: string; roots: string[] }[];
  nodes: Record<string, TreeNode>;
}

/** GET /api/readings/latest, and each `reading` event of GET /api/readings/stream (SSE). */
export interface LiveReading {
  meter: string;
  ts: number;
  seq: number;
  quality: 'good' | 'uncertain' | 'error';
  values: Partial<Record<Quantity, number>>;
  error?: ReadingError;
  flags?: string[];
  /** No reading for more than 3 poll intervals (or 5 min when the interval is unknown). */
  stale: boolean;
  /** Energy (kWh) or volume (m³) since local midnight, where computable. */
  today?: number | null;
  /** The id of the planned outage the meter is in (its supply is off on purpose), if any. */
  plannedOutage?: number;
}

/** GET /api/readings/series?meter=&quantity=&from=&to= */
export interface SeriesResponse {
  meter: string;
  quantity: Quantity;
  points: [ts: number, value: number][];
  /**
   * True when the range held more points than the response may carry: the points are then the
   * minimum and maximum of each of equal time buckets, in time order (peaks survive).
   */
  decimated?: boolean;
  /** How many points the store returned before decimation. */
  total?: number;
}

/** GET /api/health: gateways (retained status topics) and their devices (retained health topics). */
export interface HealthResponse {
  gateways: {
    id: string;
    site: string;
    state: 'online' | 'offline' | 'unknown';
    ts: number | null;
    meters?: number;
    outbox?: { messages: number; bytes: number; oldestTs: number | null; dropped: number };
  }[];
  devices: {
    gateway: string;
    device: string;
    breaker: 'closed' | 'open' | 'half-open';
    /** While the breaker is open: when the gateway polls the device again (UTC ms). */
    pausedUntil?: number;
    errorRate: number;
    latencyMs: number | null;
    lastError: ReadingError | null;
    ts: number;
  }[];
}
