import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AlertStore } from '../../inspection/detection/alerts.ts';
import type { LiveHub } from '../../metering/live/hub.ts';
import type { CampusTree } from '../../metering/live/types.ts';
import type { ReadingStore } from '../../metering/storage.ts';
import type { Prepaid } from '../../money/prepaid/prepaid.ts';
import type { RelayControl } from '../../operations/control/relay-control.ts';
import { can, type Actor } from '../../platform/auth/roles.ts';
import { route } from '../../platform/http/route.ts';
import { openEventStream } from '../../platform/http/sse.ts';
import {
  computeConsumption,
  computeOverview,
  overviewWindow,
  type ConsumptionFigures,
  type Overview,
  type OverviewSources,
} from './overview.ts';

export interface OverviewDeps {
  tree: CampusTree;
  store: ReadingStore;
  hub: Pick<LiveHub, 'latest' | 'health'>;
  alerts: AlertStore;
  control: RelayControl;
  prepaid: Prepaid;
  /** The operations desk: a meter in a planned outage is not counted as failing. */
  desk?: { outageOf: (meter: string, now: number) => number | undefined };
  clock?: () => number;
  /** How often the stream sends a fresh overview (default 15 s: the quarter hour moves slowly). */
  pushMs?: number;
}

const tags = ['overview'];
/** Late readings can still fill a finished quarter hour: the figures are read again at least this often. */
const REFRESH_MS = 60_000;
const UNDECIDED = ['open', 'assigned', 'field-checked'] as const;

/**
 * GET /api/overview and its live form GET /api/overview/stream (an `overview` event at once, then
 * every `pushMs` and shortly after any alert changes). What the caller may not see elsewhere
 * (alerts, the approval queues) is left out of its overview, so the page cannot leak it.
 */
export function overviewRoutes(deps: OverviewDeps): ((app: FastifyInstance) => void)[] {
  const clock = deps.clock ?? Date.now;
  const figures = sharedFigures(deps, clock);
  // Computed once at start, so that the first visitor does not wait for it.
  figures().catch(() => {});
  const sourcesFor = (actor: Actor) => overviewSources(deps, clock, actor);
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/overview',
        summary:
          "The landing page's figures: today so far vs the same hours last week per utility and building, peak demand, loss per metered node, failing gateways/devices/meters, open alerts by type, approvals waiting",
        tags,
        permission: 'readings.view',
        handler: ({ actor }): Promise<Overview> => computeOverview(sourcesFor(actor), figures()),
      }),
    (app) => {
      app.route({
        method: 'GET',
        url: '/api/overview/stream',
        schema: {
          summary: 'Server-sent events: `overview` with a fresh overview at once and then periodically',
          tags,
          security: [{ bearer: [] }, { cookie: [] }],
        },
        config: { permission: 'readings.view' },
        handler: (req, reply) =>
          streamOverview(req, reply, deps, () => computeOverview(sourcesFor(req.actor!), figures())),
      });
    },
  ];
}

/**
 * The store's figures change only when a quarter hour completes (or late data arrives): one
 * computation serves every caller and stream until then, and concurrent callers share it.
 */
function sharedFigures(deps: OverviewDeps, clock: () => number): () => Promise<ConsumptionFigures> {
  let cache: { key: number; at: number; figures: Promise<ConsumptionFigures> } | undefined;
  return () => {
    const now = clock();
    const key = overviewWindow(now, deps.tree.timezone).to;
    if (!cache || cache.key !== key || now - cache.at > REFRESH_MS) {
      const next = { key, at: now, figures: computeConsumption(deps.tree, deps.store, now) };
      // A failed computation is not kept: the next caller tries again.
      next.figures.catch(() => {
        if (cache === next) cache = undefined;
      });
      cache = next;
    }
    return cache.figures;
  };
}

/** What the caller may see: alerts and approval queues only with the permissions that show them elsewhere. */
function overviewSources(deps: OverviewDeps, clock: () => number, actor: Actor): OverviewSources {
  const desk = deps.desk;
  return {
    tree: deps.tree,
    store: deps.store,
    latest: () => deps.hub.latest(),
    health: () => deps.hub.health(),
    clock,
    ...(desk ? { outageOf: (meter: string) => desk.outageOf(meter, clock()) } : {}),
    ...(can(actor, 'alerts.view')
      ? {
          openAlerts: () =>
            deps.alerts
              .list({ state: UNDECIDED, limit: 10_000 })
              .map((a) => ({ id: a.id, type: a.type, ...(a.node ? { node: a.node } : {}) })),
        }
      : {}),
    approvals: () => ({
      ...(can(actor, 'relay.request') ? { relay: deps.control.list({ state: 'pending' }).length } : {}),
      ...(can(actor, 'accounts.view') ? { prepaid: deps.prepaid.pendingRequests().length } : {}),
      ...(can(actor, 'lines.confirm')
        ? { lines: deps.control.lineOperations({ state: 'unconfirmed' }).length }
        : {}),
    }),
  };
}

/** The live form: an overview at once, then every pushMs and shortly after any alert change. */
function streamOverview(
  req: FastifyRequest,
  reply: FastifyReply,
  deps: OverviewDeps,
  compute: () => Promise<Overview>,
): void {
  const { res, stopKeepAlive } = openEventStream(reply, { comment: 'overview', keepAliveMs: 20_000 });
  let busy = false;
  let closed = false;
  const push = async () => {
    // One computation at a time per client: a slow store must not pile them up.
    if (busy || closed) return;
    busy = true;
    try {
      const o = await compute();
      if (!closed && !res.writableNeedDrain) res.write(`event: overview\ndata: ${JSON.stringify(o)}\n\n`);
    } catch (err) {
      req.log.warn({ err }, 'overview could not be computed; the next push tries again');
    } finally {
      busy = false;
    }
  };
  void push();
  const timer = setInterval(() => void push(), deps.pushMs ?? 15_000);
  let soon: ReturnType<typeof setTimeout> | undefined;
  const unsubscribe = deps.alerts.onChange(() => {
    clearTimeout(soon);
    soon = setTimeout(() => void push(), 500);
  });
  const end = () => {
    closed = true;
    clearInterval(timer);
    clearTimeout(soon);
    stopKeepAlive();
    unsubscribe();
  };
  req.raw.on('close', end);
  res.on('close', end);
}
