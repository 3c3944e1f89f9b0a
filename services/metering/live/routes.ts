import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { LoadedCampus } from '../../../config/campus.ts';
import { QuantitySchema } from '../../../config/schemas/quantities.ts';
import { route } from '../../platform/http/route.ts';
import { openEventStream } from '../../platform/http/sse.ts';
import type { Clock } from '../../platform/db.ts';
import { ServiceError } from '../../platform/errors.ts';
import { inputProblems } from '../../platform/input-problems.ts';
import { intervalConsumption } from '../consumption/consumption.ts';
import type { CumulativeQuantity, ReadingStore } from '../storage.ts';
import type { Vee } from '../vee/service.ts';
import { liveError } from './errors.ts';
import type { LiveHub } from './hub.ts';
import { healthSummary, type HealthSummary } from './health-summary.ts';
import { campusTree } from './tree.ts';
import type { SeriesResponse } from './types.ts';

/**
 * The live view's API, every route behind `readings.view`:
 *
 * | method | path | answer |
 * |---|---|---|
 * | GET | /api/campus/tree | CampusTree |
 * | GET | /api/readings/latest?meters=a,b | LiveReading[] (all meters with a reading if no `meters`) |
 * | GET | /api/readings/series?meter=&quantity=&from=&to= | SeriesResponse, at most 5,000 points |
 * | GET | /api/readings/stream?meters=a,b | SSE: `event: reading`, data a LiveReading |
 * | GET | /api/health | HealthResponse (retained gateway status and device health) |
 * | GET | /api/health/summary | HealthSummary: every meter's readings and polling, per bus, failing first |
 * | GET | /api/vee/intervals?meter=&quantity=&from=&to=&step= | ValidatedInterval[] (VEE flags) |
 * | GET | /api/balance?node=&from=&to=&step= | BalanceResponse: a node's register vs Σ its children |
 *
 * The stream first sends the current reading of each meter asked for, then every change; a
 * client that cannot keep up gets the newest value per meter (see fanout.ts). A comment line
 * every 25 s keeps proxies from closing an idle stream.
 */

export interface LiveRoutesOptions {
  hub: LiveHub;
  campus: LoadedCampus;
  store: ReadingStore;
  /** Validated intervals for the chart's VEE flags; absent: that route answers 503. */
  vee?: Pick<Vee, 'intervals'>;
  clock?: Clock;
  /** Most points a series answer carries (default 5,000). */
  maxSeriesPoints?: number;
  /** SSE keep-alive period (default 25 s). */
  keepAliveMs?: number;
  /** The planned outage a meter is in now, if any: marked on its latest reading (`plannedOutage`). */
  outageOf?: (meter: string) => number | undefined;
}

const tags = ['live'];
const DAY = 86_400_000;
/** The longest raw series one request may read (a year of 15-minute readings is ~35,000 points). */
const MAX_SERIES_RANGE = 400 * DAY;
const MAX_VEE_RANGE = { '15m': 31 * DAY, '1d': 400 * DAY } as const;
const MAX_BALANCE_RANGE = { '15m': 31 * DAY, '1h': 93 * DAY, '1d': 400 * DAY } as const;
/** The register a node's balance is computed from, per meter kind, and its unit. */
const BALANCE_REGISTER: Record<'electricity' | 'water' | 'heat', [CumulativeQuantity, string]> = {
  electricity: ['energy_import_kwh', 'kWh'],
  water: ['volume_m3', 'm³'],
  heat: ['heat_kwh', 'kWh'],
};

const Ms = z
  .string()
  .regex(/^\d{1,15}$/, 'a time in UTC milliseconds')
  .transform(Number);
const MeterId = z.string().min(1).max(128);
const MeterList = z
  .string()
  .max(100_000)
  .transform((s) => [
    ...new Set(
      s
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean),
    ),
  ])
  .describe('Comma-separated meter ids; absent: every meter');

const LatestQuery = z.object({ meters: MeterList.optional() }).strict();
const SeriesQuery = z
  .object({ meter: MeterId, quantity: QuantitySchema, from: Ms.optional(), to: Ms.optional() })
  .strict();
const VeeQuery = z
  .object({
    meter: MeterId,
    quantity: z.enum(['energy_import_kwh', 'energy_export_kwh', 'volume_m3', 'heat_kwh']),
    from: Ms,
    to: Ms,
    step: z.enum(['15m', '1d']).default('15m'),
  })
  .strict();

const BalanceQuery = z
  .object({
    node: MeterId,
    from: Ms.optional(),
    to: Ms.optional(),
    step: z.enum(['15m', '1h', '1d']).default('1h'),
  })
  .strict();

export interface BalanceInterval {
  start: number;
  end: number;
  /** The node's own consumption; null when it cannot be computed. */
  upstream: number | null;
  /** Σ of the children's consumption; null when any child's is null. */
  downstream: number | null;
  /** upstream − downstream; null when either is null. */
  loss: number | null;
  /** loss / upstream × 100; null when loss is null or upstream is 0. */
  lossPct: number | null;
  /** 'uncomputable': upstream or downstream is null; 'negative': the children used more than the node. */
  state: 'ok' | 'negative' | 'uncomputable';
}

export interface BalanceResponse {
  node: string;
  kind: 'electricity' | 'water' | 'heat';
  children: string[];
  unit: string;
  quantity: CumulativeQuantity;
  step: '15m' | '1h' | '1d';
  from: number;
  to: number;
  intervals: BalanceInterval[];
}

/** Registers are far coarser than this; rounding keeps float noise from making a zero loss negative. */
const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

/**
 * The balance of one node per interval, from the interval consumption of the node (`upstream`)
 * and of each of its children.
 */
export function balanceIntervals(
  node: string,
  children: readonly string[],
  consumption: readonly { meter: string; start: number; end: number; value: number | null }[],
): BalanceInterval[] {
  const byStart = new Map<number, { end: number; up: number | null; down: (number | null)[] }>();
  const slot = (start: number, end: number) => {
    let e = byStart.get(start);
    if (!e) byStart.set(start, (e = { end, up: null, down: [] }));
    return e;
  };
  const childSet = new Set(children);
  for (const c of consumption) {
    if (c.meter === node) slot(c.start, c.end).up = c.value;
    else if (childSet.has(c.meter)) slot(c.start, c.end).down.push(c.value);
  }
  return [...byStart.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([start, e]) => {
      const complete = e.down.length === children.length && e.down.every((v) => v !== null);
      const downstream = complete ? round6((e.down as number[]).reduce((a, b) => a + b, 0)) : null;
      const upstream = e.up === null ? null : round6(e.up);
      if (upstream === null || downstream === null) {
        return { start, end: e.end, upstream, downstream, loss: null, lossPct: null, state: 'uncomputable' };
      }
      const loss = round6(upstream - downstream);
      return {
        start,
        end: e.end,
        upstream,
        downstream,
        loss,
        lossPct: upstream === 0 ? null : (loss / upstream) * 100,
        state: loss < 0 ? 'negative' : 'ok',
      };
    });
}

/**
 * At most `max` points: if there are more, the range is cut into max/2 equal time buckets and
 * each keeps its lowest and highest point, in time order, so spikes and dips stay visible.
 */
export function decimate(points: readonly [number, number][], max: number): [number, number][] {
  if (points.length <= max) return [...points];
  const buckets = Math.max(1, Math.floor(max / 2));
  const t0 = points[0]![0];
  const span = points[points.length - 1]![0] - t0 + 1;
  const out: [number, number][] = [];
  let i = 0;
  for (let b = 0; b < buckets && i < points.length; b++) {
    const end = t0 + Math.ceil(((b + 1) * span) / buckets);
    let lo = -1;
    let hi = -1;
    for (; i < points.length && points[i]![0] < end; i++) {
      if (lo < 0 || points[i]![1] < points[lo]![1]) lo = i;
      if (hi < 0 || points[i]![1] > points[hi]![1]) hi = i;
    }
    if (lo < 0) continue;
    if (lo === hi) out.push(points[lo]!);
    else if (lo < hi) out.push(points[lo]!, points[hi]!);
    else out.push(points[hi]!, points[lo]!);
  }
  return out;
}

export function liveRoutes(options: LiveRoutesOptions): ((app: FastifyInstance) => void)[] {
  const { hub, campus, store } = options;
  const clock = options.clock ?? Date.now;
  const maxPoints = options.maxSeriesPoints ?? 5_000;
  const keepAliveMs = options.keepAliveMs ?? 25_000;
  // The campus file is frozen for the life of the process, so is its tree.
  const tree = campusTree(campus);

  const known = (ids: readonly string[]) => {
    const unknown = ids.filter((m) => !hub.knows(m));
    if (unknown.length > 0) {
      liveError('UNKNOWN_METER', `no meter ${unknown.slice(0, 5).join(', ')} in the campus file`);
    }
    return ids;
  };

  /** The latest readings, each marked with the planned outage its meter is in. */
  const latestMarked = (meters?: readonly string[]) => {
    const latest = hub.latest(meters);
    const outageOf = options.outageOf;
    if (!outageOf) return latest;
    return latest.map((r) => {
      const outage = outageOf(r.meter);
      return outage === undefined ? r : { ...r, plannedOutage: outage };
    });
  };

  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/campus/tree',
        summary: 'The campus as a tree of substations, buildings and meters',
        tags,
        permission: 'readings.view',
        handler: () => tree,
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/readings/latest',
        summary: "Each meter's latest reading, with staleness and today's energy or volume",
        tags,
        permission: 'readings.view',
        query: LatestQuery,
        handler: ({ query }) => latestMarked(query.meters ? known(query.meters) : undefined),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/readings/series',
        summary: `One quantity of one meter over [from, to) (default the last 24 h), at most ${maxPoints} points`,
        tags,
        permission: 'readings.view',
        query: SeriesQuery,
        handler: async ({ query }): Promise<SeriesResponse> => {
          known([query.meter]);
          const to = query.to ?? clock();
          const from = query.from ?? to - DAY;
          if (!(to > from) || to - from > MAX_SERIES_RANGE) {
            liveError(
              'INVALID_RANGE',
              `[${from}, ${to}) is empty or longer than ${MAX_SERIES_RANGE / DAY} days`,
            );
          }
          const raw = await store.series({ meters: [query.meter], quantity: query.quantity, from, to });
          const points = decimate(
            raw.map((p) => [p.ts, p.value] as [number, number]),
            maxPoints,
          );
          return {
            meter: query.meter,
            quantity: query.quantity,
            points,
            ...(points.length < raw.length ? { decimated: true, total: raw.length } : {}),
          };
        },
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/health',
        summary: 'Gateways (retained status) and their devices (retained health)',
        tags,
        permission: 'readings.view',
        handler: () => hub.health(),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/health/summary',
        summary:
          'Every meter with the state of its readings and its polling, per bus and gateway, failing first',
        tags,
        permission: 'readings.view',
        handler: (): HealthSummary => healthSummary(campus, hub.health(), latestMarked()),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/vee/intervals',
        summary: 'Validated intervals (values, sources and VEE flags) of one meter register',
        tags,
        permission: 'readings.view',
        query: VeeQuery,
        handler: async ({ query }) => {
          known([query.meter]);
          if (!(query.to > query.from) || query.to - query.from > MAX_VEE_RANGE[query.step]) {
            liveError(
              'INVALID_RANGE',
              `[${query.from}, ${query.to}) is empty or longer than ${MAX_VEE_RANGE[query.step] / DAY} days for step ${query.step}`,
            );
          }
          if (!options.vee) liveError('VEE_UNAVAILABLE', 'this back office runs without VEE');
          return options.vee.intervals(query);
        },
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/balance',
        summary:
          "Energy balance of a node: its own consumption vs the sum of its children's, per interval (default the last 24 h)",
        tags,
        permission: 'readings.view',
        query: BalanceQuery,
        handler: async ({ query }): Promise<BalanceResponse> => {
          const n = tree.nodes[query.node];
          if (!n || n.kind === 'group') {
            liveError('UNKNOWN_METER', `no meter ${query.node} in the campus file`);
          }
          // A child of another kind (a water meter under a building's electricity meter) is not
          // part of this balance.
          const children = n.children.filter((c) => tree.nodes[c]?.kind === n.kind);
          if (children.length === 0) {
            liveError('UNKNOWN_METER', `meter ${query.node} has no child meters to balance against`);
          }
          const to = query.to ?? clock();
          const from = query.from ?? to - DAY;
          const max = MAX_BALANCE_RANGE[query.step];
          if (!(to > from) || to - from > max) {
            liveError(
              'INVALID_RANGE',
              `[${from}, ${to}) is empty or longer than ${max / DAY} days for step ${query.step}`,
            );
          }
          const [quantity, unit] = BALANCE_REGISTER[n.kind];
          const consumption = await intervalConsumption(store, {
            meters: [query.node, ...children],
            quantity,
            from,
            to,
            step: query.step,
            timezone: tree.timezone,
          });
          return {
            node: query.node,
            kind: n.kind,
            children,
            unit,
            quantity,
            step: query.step,
            from,
            to,
            intervals: balanceIntervals(query.node, children, consumption),
          };
        },
      }),
    (app) => {
      app.route({
        method: 'GET',
        url: '/api/readings/stream',
        schema: {
          summary:
            'Server-sent events: `reading` with a LiveReading, first the current ones, then each change',
          tags,
          querystring: z.toJSONSchema(LatestQuery, { target: 'openapi-3.0', io: 'input' }),
          security: [{ bearer: [] }, { cookie: [] }],
        },
        // The same onRequest hook as every other route checks this before the handler runs.
        config: { permission: 'readings.view' },
        validatorCompiler: () => () => true,
        handler: (req, reply) => {
          const parsed = LatestQuery.safeParse(req.query ?? {});
          if (!parsed.success) {
            throw new ServiceError('INVALID_REQUEST', 400, inputProblems(parsed.error, 'query'));
          }
          const meters = parsed.data.meters ? known(parsed.data.meters) : null;
          const { res, stopKeepAlive } = openEventStream(reply, {
            comment: 'live readings',
            keepAliveMs,
            retryMs: 3000,
          });
          const sub = hub.subscribe(meters, res);
          const end = () => {
            sub.close();
            stopKeepAlive();
          };
          req.raw.on('close', end);
          res.on('close', end);
        },
      });
    },
  ];
}
