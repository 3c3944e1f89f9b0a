import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { LoadedCampus } from '../../../config/campus.ts';
import type { AlertStore } from '../../inspection/detection/alerts.ts';
import { openAlertHolds } from '../../inspection/detection/retention-hold.ts';
import { openGapHolds } from '../../metering/ingest/gap-hold.ts';
import { campusTree } from '../../metering/live/tree.ts';
import type { ReadingStore, RetentionHold, RetentionPolicy } from '../../metering/storage.ts';
import { veeHolds } from '../../metering/vee/retention-hold.ts';
import type { BillingAccount } from '../../money/billing/accounts.ts';
import { billingHolds } from '../../money/billing/retention-hold.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { everyInterval } from '../../platform/timers.ts';
import type { MetricFamily } from '../../platform/metrics/exposition.ts';

/**
 * Retention of raw readings on the campus's schedule (storage.retention): each run asks every
 * service that may still need raw readings for its holds, and only when all of them answered does
 * it let the store delete (SQLite: closed days past rawDays; InfluxDB: the raw policy's duration).
 * A source that fails to answer stops the run: a missing answer is never read as "nothing held".
 * That includes ingest's gap ledger missing from where the campus file says it is (ingest on
 * another machine, or not started yet): unless the campus file accepts the ledger being elsewhere.
 * Each run that deletes is written to the audit log, as every other change to records is.
 */

export const RETENTION_ACTOR = 'system:retention';
/** After a start, before the first run: the back office and ingest settle first. */
const FIRST_RUN_DELAY_MS = 5 * 60_000;

/** A store that can apply retention (both adapters; a store without it is left alone). */
interface RetainingStore {
  applyRetention(policy: RetentionPolicy): unknown;
}

export interface RetentionDeps {
  campus: LoadedCampus;
  store: ReadingStore;
  db: BackofficeDb;
  audit: AuditLog;
  alerts: Pick<AlertStore, 'list'>;
  /** The post-paid accounts (read from their file at each call: a broken file fails the run). */
  accounts: () => readonly BillingAccount[];
  clock: Clock;
  logger: Logger;
}

export interface RetentionRun {
  at: number;
  ok: boolean;
  /** Why nothing was deleted: the hold source that failed and its error. */
  error?: string;
  /** The hold source that stopped the run. */
  blockedBy?: string;
  /** Hold sources the campus file accepts not asking (storage.retention.ingestGaps). */
  unheld?: string[];
  holds?: number;
  /** Readings (SQLite) deleted; InfluxDB deletes on its own, so only `rawDays` is known. */
  deletedReadings?: number;
  /** The raw duration InfluxDB was set to (days), stretched to the earliest hold. */
  rawDays?: number;
  heldMeters?: number;
}

export interface RetentionPart {
  /** One run now (after any run under way): what the scheduled runs do. */
  runNow(): Promise<RetentionRun>;
  /** The last run, if any. */
  last(): RetentionRun | undefined;
  metrics(): MetricFamily[];
  stop(): Promise<void>;
}

/** What a hold source answers: its holds, or that the campus file accepts not asking it. */
type HoldAnswer = RetentionHold[] | 'unheld-accepted';

/** Each service that may still need raw readings, by name (the name is logged when it fails). */
function holdSources(deps: RetentionDeps): [string, () => HoldAnswer][] {
  return [
    ['billing', () => billingHolds(deps.db, deps.accounts(), customerMeters(deps.campus))],
    ['vee', () => veeHolds(deps.db)],
    ['ingest-gaps', ingestGapSource(deps.campus)],
    ['alerts', () => openAlertHolds(deps.alerts)],
  ];
}

/** The campus file's customer meters (those with an account): any may be added to a post-paid account. */
function customerMeters(campus: LoadedCampus): string[] {
  return Object.values(campusTree(campus).nodes)
    .filter((n) => n.account !== undefined)
    .map((n) => n.id);
}

/**
 * Ingest's open gaps, failing closed. A missing ledger file does not mean "no gap": ingest may run
 * on another machine, or not have started yet, and a replay still on its way would be merged into
 * a day retention had deleted. Only two answers are not errors: replay turned off (ingest follows
 * no gap and keeps no ledger), and the campus file accepting the ledger being out of reach.
 */
function ingestGapSource(campus: LoadedCampus): () => HoldAnswer {
  const { ingest, storage } = campus.config;
  const ledger = resolve(campus.dataDir, ingest.gapLedgerPath);
  return () => {
    if (existsSync(ledger)) return openGapHolds(ledger);
    if (ingest.replay === null) return [];
    if (storage.retention.ingestGaps === 'elsewhere-accepted') return 'unheld-accepted';
    throw new Error(
      `ingest's gap ledger ${ledger} is not here (ingest runs on another machine, or has not started), so which meters have an open gap is unknown; set ingest.gapLedgerPath to where ingest keeps it, or storage.retention.ingestGaps: elsewhere-accepted`,
    );
  };
}

function isRetaining(store: ReadingStore): store is ReadingStore & RetainingStore {
  return typeof (store as Partial<RetainingStore>).applyRetention === 'function';
}

export function createRetention(deps: RetentionDeps): RetentionPart {
  const log = deps.logger.child({ component: 'retention' });
  const { rawDays, every } = deps.campus.config.storage.retention;
  const sources = holdSources(deps);
  const counts: RetentionCounts = {
    ...{ ok: 0, failed: 0, deletedReadings: 0, lastSuccess: 0, heldMeters: 0 },
    sources: sources.map(([name]) => name),
    blockedBy: undefined,
    unheld: [],
  };
  let last: RetentionRun | undefined;
  let chain: Promise<unknown> = Promise.resolve();

  async function once(): Promise<RetentionRun> {
    const at = deps.clock();
    if (rawDays === null) return { at, ok: true, holds: 0, deletedReadings: 0 };
    if (!isRetaining(deps.store)) return { at, ok: false, error: 'the reading store has no retention' };
    const gathered = gatherHolds(sources);
    counts.blockedBy = 'error' in gathered ? gathered.source : undefined;
    if ('error' in gathered) {
      counts.failed++;
      log.error({ error: gathered.error, source: gathered.source }, 'retention not applied: nothing deleted');
      return { at, ok: false, error: gathered.error, blockedBy: gathered.source };
    }
    const { holds, unheld } = gathered;
    counts.unheld = unheld;
    for (const source of unheld)
      log.warn(
        { source },
        "ingest's gap ledger is elsewhere (accepted by storage.retention.ingestGaps): meters with an open gap are not held",
      );
    let result: unknown;
    try {
      result = await deps.store.applyRetention({ now: at, rawDays, holds });
    } catch (err) {
      counts.failed++;
      const error = `the store failed to apply retention: ${(err as Error).message}`;
      log.error({ error }, 'retention failed');
      return { at, ok: false, error };
    }
    return recorded(deps, counts, log, { at, rawDays, holds, unheld, result });
  }

  function runNow(): Promise<RetentionRun> {
    // One run at a time: a scheduled run and a manual one never interleave their deletes.
    const next = chain.then(once, once).then((run) => (last = run));
    chain = next;
    return next;
  }

  const timer = schedule(rawDays, every, runNow, log);

  return {
    runNow,
    last: () => last,
    metrics: () => retentionMetrics(counts),
    stop: () => timer.stop(),
  };
}

/** A run that applied retention: counted, logged, and audited when it deleted anything. */
function recorded(
  deps: RetentionDeps,
  counts: RetentionCounts,
  log: RetentionDeps['logger'],
  a: { at: number; rawDays: number; holds: RetentionHold[]; unheld: string[]; result: unknown },
): RetentionRun {
  const { at, rawDays, holds, unheld } = a;
  const r = a.result as { readings?: number; heldMeters?: number; rawDays?: number };
  const run: RetentionRun = {
    at,
    ok: true,
    ...(unheld.length > 0 ? { unheld } : {}),
    holds: holds.length,
    ...(r.readings !== undefined ? { deletedReadings: r.readings } : {}),
    ...(r.rawDays !== undefined ? { rawDays: r.rawDays } : {}),
    ...(r.heldMeters !== undefined ? { heldMeters: r.heldMeters } : {}),
  };
  counts.ok++;
  counts.lastSuccess = at;
  counts.deletedReadings += run.deletedReadings ?? 0;
  counts.heldMeters = run.heldMeters ?? 0;
  const byReason: Record<string, number> = {};
  for (const h of holds) byReason[h.reason] = (byReason[h.reason] ?? 0) + 1;
  log.info({ ...run, rawDaysSetting: rawDays, holdsByReason: byReason }, 'retention applied');
  if ((run.deletedReadings ?? 0) > 0 || run.rawDays !== undefined) {
    deps.audit.append({
      actor: RETENTION_ACTOR,
      action: 'storage.retention',
      subject: 'store:raw-readings',
      after: { rawDays, holdsByReason: byReason, ...(unheld.length > 0 ? { unheld } : {}), ...r },
    });
  }
  return run;
}

/** Every hold source's holds, or which source failed (then nothing may be deleted). */
function gatherHolds(
  sources: ReturnType<typeof holdSources>,
): { holds: RetentionHold[]; unheld: string[] } | { error: string; source: string } {
  const holds: RetentionHold[] = [];
  const unheld: string[] = [];
  for (const [name, source] of sources) {
    try {
      const answer = source();
      if (answer === 'unheld-accepted') unheld.push(name);
      else holds.push(...answer);
    } catch (err) {
      return { error: `hold source ${name} failed: ${(err as Error).message}`, source: name };
    }
  }
  return { holds, unheld };
}

/** The first run a few minutes after start, then every `every`; none when raw is kept for ever. */
function schedule(
  rawDays: number | null,
  every: number,
  run: () => Promise<unknown>,
  log: RetentionDeps['logger'],
): { stop: () => Promise<void> } {
  if (rawDays === null) {
    log.info('storage.retention.rawDays is null: raw readings are kept for ever');
    return { stop: async () => undefined };
  }
  return everyInterval('retention', every, run, log, { firstAfterMs: Math.min(FIRST_RUN_DELAY_MS, every) });
}

interface RetentionCounts {
  ok: number;
  failed: number;
  deletedReadings: number;
  lastSuccess: number;
  heldMeters: number;
  /** Every hold source's name, so each has a sample (0 or 1) in the gauges below. */
  sources: string[];
  blockedBy: string | undefined;
  unheld: string[];
}

function retentionMetrics(counts: RetentionCounts): ReturnType<RetentionPart['metrics']> {
  return [
    {
      name: 'campus_energy_retention_runs_total',
      type: 'counter',
      help: 'Retention runs, by result (failed: a hold source or the store did not answer; nothing deleted)',
      samples: [
        { labels: { result: 'ok' }, value: counts.ok },
        { labels: { result: 'failed' }, value: counts.failed },
      ],
    },
    {
      name: 'campus_energy_retention_deleted_readings_total',
      type: 'counter',
      help: 'Raw readings retention deleted from the embedded store (roll-ups kept)',
      samples: [{ value: counts.deletedReadings }],
    },
    {
      name: 'campus_energy_retention_held_meters',
      type: 'gauge',
      help: 'Meters whose raw readings past the age limit were kept by a hold at the last run',
      samples: [{ value: counts.heldMeters }],
    },
    {
      name: 'campus_energy_retention_last_success_timestamp_seconds',
      type: 'gauge',
      help: 'When retention last ran to the end (0: not yet)',
      samples: [{ value: Math.floor(counts.lastSuccess / 1000) }],
    },
    {
      name: 'campus_energy_retention_blocked',
      type: 'gauge',
      help: 'The hold source that stopped the last run (1), so nothing was deleted: e.g. ingest-gaps when its ledger is not here',
      samples: counts.sources.map((source) => ({
        labels: { source },
        value: counts.blockedBy === source ? 1 : 0,
      })),
    },
    {
      name: 'campus_energy_retention_unheld',
      type: 'gauge',
      help: 'Hold sources the campus file accepts not asking (storage.retention.ingestGaps: elsewhere-accepted), at the last run',
      samples: counts.unheld.map((source) => ({ labels: { source }, value: 1 })),
    },
  ];
}
