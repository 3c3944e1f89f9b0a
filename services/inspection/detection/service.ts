import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { LoadedCampus } from '../../../config/campus.ts';
import { route } from '../../platform/http/route.ts';
import { IdParams } from '../../platform/http/schemas.ts';
import { openEventStream } from '../../platform/http/sse.ts';
import type { Clock } from '../../platform/db.ts';
import type { ReadingStore } from '../../metering/storage.ts';
import { ALERT_STATES, type Alert, type AlertChange, type AlertStore, type SyncResult } from './alerts.ts';
import { inputFromStore } from './input.ts';
import {
  ALERT_TYPES,
  type DetectionInput,
  type DetectionResult,
  type Finding,
  type HeatingRegistration,
  type WeatherSample,
} from './types.ts';

/**
 * The live detection service: every `intervalMs` it reads the last `windowMs` of readings from the
 * store, runs the engine, brings the alert store in line and publishes every alert change on
 * `campus/v1/alerts/<type>` (QoS 1, not retained). Plus the inspectors' alert routes for the API,
 * with a server-sent-event stream of changes.
 */

/** The payload of `campus/v1/alerts/<type>`; subscribers parse it with this schema. */
export const AlertMessageSchema = z
  .object({
    v: z.literal(1),
    change: z.enum([
      'opened',
      'updated',
      'closed',
      'ended',
      'assigned',
      'field-checked',
      'confirmed',
      'dismissed',
    ]),
    at: z.number().int(),
    alert: z
      .object({
        id: z.number().int().positive(),
        key: z.string(),
        type: z.enum(ALERT_TYPES),
        severity: z.enum(['low', 'medium', 'high']),
        meter: z.string().optional(),
        node: z.string().optional(),
        score: z.number(),
        since: z.number().int(),
        reason: z.string(),
        state: z.enum(ALERT_STATES),
        active: z.boolean(),
        assignee: z.string().optional(),
        unexplained: z.number().optional(),
        figures: z.record(z.string(), z.union([z.number(), z.string()])),
      })
      .strict(),
  })
  .strict();
export type AlertMessage = z.infer<typeof AlertMessageSchema>;

export const alertTopic = (type: Alert['type']): string => `campus/v1/alerts/${type}`;

export function alertMessage(c: AlertChange, at: number): AlertMessage {
  const a = c.alert;
  return {
    v: 1,
    change: c.kind,
    at,
    alert: {
      id: a.id,
      key: a.key,
      type: a.type,
      severity: a.severity,
      ...(a.meter !== undefined ? { meter: a.meter } : {}),
      ...(a.node !== undefined ? { node: a.node } : {}),
      score: a.score,
      since: a.since,
      reason: a.reason,
      state: a.state,
      active: a.active,
      ...(a.assignee !== undefined ? { assignee: a.assignee } : {}),
      ...(a.unexplained !== undefined ? { unexplained: a.unexplained } : {}),
      figures: a.evidence.figures,
    },
  };
}

export interface PublishOptions {
  qos: 1;
  retain: false;
}

export interface DetectionOptions {
  store: ReadingStore;
  campus: LoadedCampus;
  alerts: AlertStore;
  /** The engine's `detect` with the detectors the campus uses (unless `evaluate` is given). */
  detect?: (input: DetectionInput) => DetectionResult;
  /**
   * Reads and judges the readings elsewhere (the detection worker thread, worker.ts) instead of
   * `prepare` + reading the window + `detect` here: only the findings come back to be synced.
   */
  evaluate?: (now: number) => Promise<DetectionResult>;
  /** Hands one message to MQTT; a rejection or throw is reported through onError, never fatal. */
  publish: (topic: string, payload: string, options: PublishOptions) => void | Promise<void>;
  intervalMs: number;
  /** How much history each run looks at. */
  windowMs: number;
  clock?: Clock;
  /** Heating registrations in force (the heating desk's records). */
  heating?: () => readonly HeatingRegistration[] | Promise<readonly HeatingRegistration[]>;
  weather?: (from: number, to: number) => readonly WeatherSample[] | Promise<readonly WeatherSample[]>;
  /** Roles of meters where known (dorm-room, staff-household). */
  roles?: ReadonlyMap<string, string>;
  /** Before each run (awaited): e.g. the live detector priming itself from the store once. */
  prepare?: (now: number) => Promise<void>;
  /** After each run: e.g. to feed an IllegalLoadTripPolicy and route its requests to RelayControl. */
  onRun?: (result: DetectionResult, sync: SyncResult, now: number) => void | Promise<void>;
  onError?: (err: Error, where: 'run' | 'publish') => void;
  /**
   * Whether a finding is explained by something known (a planned outage: the supply was off on
   * purpose): an explained finding raises no alert.
   */
  explained?: (finding: Finding, now: number) => boolean;
}

export interface RunningDetection {
  /** One run now (also what the timer does); resolves when its alerts are synced. */
  runOnce(): Promise<SyncResult>;
  stop(): Promise<void>;
}

export function startDetection(opts: DetectionOptions): RunningDetection {
  const clock = opts.clock ?? Date.now;
  const onError = opts.onError ?? (() => undefined);
  const publishChange = (c: AlertChange) => {
    const message = alertMessage(c, clock());
    try {
      const p = opts.publish(alertTopic(c.alert.type), JSON.stringify(message), { qos: 1, retain: false });
      if (p) p.catch((e: unknown) => onError(e as Error, 'publish'));
    } catch (e) {
      onError(e as Error, 'publish');
    }
  };
  const unsubscribe = opts.alerts.onChange(publishChange);

  let running: Promise<SyncResult> | undefined;
  const run = async (): Promise<SyncResult> => {
    const now = clock();
    const result = opts.evaluate ? await opts.evaluate(now) : await readAndDetect(opts, now);
    const findings = opts.explained
      ? result.findings.filter((f) => !opts.explained!(f, now))
      : result.findings;
    const sync = opts.alerts.sync(findings, now);
    await opts.onRun?.(result, sync, now);
    return sync;
  };
  const runOnce = (): Promise<SyncResult> => {
    // One run at a time: a slow run is waited for, not overlapped.
    running ??= run().finally(() => {
      running = undefined;
    });
    return running;
  };

  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      runOnce()
        .catch((e: unknown) => onError(e as Error, 'run'))
        .finally(schedule);
    }, opts.intervalMs);
  };
  schedule();

  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      unsubscribe();
      await running?.catch(() => undefined);
    },
  };
}

/** One run's input read from the store on this thread, and the engine's result over it. */
async function readAndDetect(opts: DetectionOptions, now: number): Promise<DetectionResult> {
  if (!opts.detect) throw new Error('detection needs either detect or evaluate');
  await opts.prepare?.(now);
  const from = now - opts.windowMs;
  const input = await inputFromStore(opts.store, opts.campus, {
    from,
    to: now,
    ...(opts.heating ? { heating: await opts.heating() } : {}),
    ...(opts.weather ? { weather: await opts.weather(from, now) } : {}),
    ...(opts.roles ? { roles: opts.roles } : {}),
  });
  return opts.detect(input);
}

// ── API ──

const tags = ['alerts'];
const Notes = z.string().trim().min(1).max(2000);
const ListQuery = z
  .object({
    state: z.enum(ALERT_STATES).optional(),
    type: z.enum(ALERT_TYPES).optional(),
    meter: z.string().max(64).optional(),
    node: z.string().max(64).optional(),
    assignee: z.string().max(64).optional(),
    active: z.enum(['true', 'false']).optional(),
    limit: z
      .string()
      .regex(/^[1-9][0-9]{0,3}$/, 'limit is 1–9999')
      .transform(Number)
      .optional(),
  })
  .strict();

/** SSE keep-alive, so proxies do not close an idle stream. */
const HEARTBEAT_MS = 25_000;

/**
 * Alert routes for `buildApi({ routes })`: inspectors and supervisors view ('alerts.view'),
 * inspectors handle ('alerts.handle'; the store checks again). `GET /api/alerts/stream` is a
 * server-sent-event stream of every alert change while the client stays connected.
 */
export function alertRoutes(alerts: AlertStore): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/alerts',
        summary: 'Alerts, newest first, by state, type, meter, node, assignee, active',
        tags,
        permission: 'alerts.view',
        query: ListQuery,
        handler: ({ query }) => {
          const { active, ...rest } = query;
          return alerts.list({ ...rest, ...(active !== undefined ? { active: active === 'true' } : {}) });
        },
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/alerts/:id',
        summary: 'One alert with its evidence, suspects and every step',
        tags,
        permission: 'alerts.view',
        params: IdParams,
        handler: ({ params }) => alerts.get(params.id),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/alerts/:id/assign',
        summary: 'Assign the alert to an inspector',
        tags,
        permission: 'alerts.handle',
        params: IdParams,
        body: z.object({ inspector: z.string().trim().min(1).max(64), notes: Notes.optional() }).strict(),
        handler: ({ params, body, actor }) => alerts.assign(params.id, { ...body, actor }),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/alerts/:id/field-check',
        summary: 'Record what the on-site check found',
        tags,
        permission: 'alerts.handle',
        params: IdParams,
        body: z.object({ notes: Notes }).strict(),
        handler: ({ params, body, actor }) => alerts.fieldCheck(params.id, { ...body, actor }),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/alerts/:id/confirm',
        summary: 'Confirm the alert after the field check',
        tags,
        permission: 'alerts.handle',
        params: IdParams,
        body: z.object({ notes: Notes }).strict(),
        handler: ({ params, body, actor }) => alerts.confirm(params.id, { ...body, actor }),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/alerts/:id/dismiss',
        summary: 'Dismiss the alert, saying why',
        tags,
        permission: 'alerts.handle',
        params: IdParams,
        body: z.object({ notes: Notes }).strict(),
        handler: ({ params, body, actor }) => alerts.dismiss(params.id, { ...body, actor }),
      }),
    (app) => {
      app.route({
        method: 'GET',
        url: '/api/alerts/stream',
        schema: {
          summary: 'Server-sent events: one `alert` event per alert change, while connected',
          tags,
          security: [{ bearer: [] }, { cookie: [] }],
        },
        config: { permission: 'alerts.view' },
        handler: (req, reply) => {
          const { res, stopKeepAlive } = openEventStream(reply, {
            comment: 'alerts stream',
            keepAliveMs: HEARTBEAT_MS,
          });
          const off = alerts.onChange((c) => {
            res.write(`event: alert\ndata: ${JSON.stringify(alertMessage(c, Date.now()))}\n\n`);
          });
          const end = () => {
            off();
            stopKeepAlive();
          };
          req.raw.on('close', end);
          res.on('close', end);
        },
      });
    },
  ];
}
