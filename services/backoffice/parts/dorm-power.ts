import type { Logger } from 'pino';
import type { LoadedCampus } from '../../../config/campus.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { everyInterval } from '../../platform/timers.ts';
import { levelsFor, type Prepaid } from '../../money/prepaid/index.ts';
import type { MeterLocator, RelayControl } from '../../operations/control/relay-control.ts';
import { PolicyProposals, type PolicyVersion } from '../../operations/schedules/proposals.ts';
import { standingPolicyRoutes } from '../../operations/schedules/routes.ts';
import { ScheduleRunner } from '../../operations/schedules/runner.ts';
import { campusMeters } from '../../operations/schedules/targets.ts';
import { powerLimitRoutes } from '../../operations/power-limits/routes.ts';
import { Trips } from '../../operations/power-limits/trips.ts';
import { PowerLimitWatcher } from '../../operations/power-limits/watcher.ts';
import type { ReadingStore } from '../../metering/storage.ts';
import type { RouteFn } from './api.ts';

/**
 * Dorm power: the campus file's lights-out schedules and power limits carried out through relay
 * control, their proposals and approvals, and the prepaid accounts' veto on closing a relay out of
 * credit. A room's customer type for its limit is its verified prepaid account's.
 */

export interface DormPowerDeps {
  campus: LoadedCampus;
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  control: RelayControl;
  locate: MeterLocator;
  prepaid: Prepaid;
  /** The live readings (the store ingest writes) the power limits are compared with. */
  store: ReadingStore;
  logger: Logger;
  /** How often the schedules are looked at (default 30 s: a lights-out is carried out within it). */
  scheduleTickMs?: number;
}

export interface RunningDormPower {
  proposals: PolicyProposals;
  schedules: ScheduleRunner;
  limits: PowerLimitWatcher;
  /** An illegal load found by detection trips the room like a power limit. */
  tripIllegalLoad: (meter: string, evidence: unknown) => Promise<unknown>;
  routes: (clock: Clock) => RouteFn[];
  /** One pass now (also what the timer runs). */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The meter's prepaid account, from the accounts' own meter lists: read again once a minute, and
 * at once (at most once a second) for a meter not found, so that a room opened a moment ago is
 * not missed.
 */
function meterAccounts(prepaid: Prepaid, clock: Clock): (meter: string) => string | undefined {
  let map = new Map<string, string>();
  let at = -Infinity;
  return (meter) => {
    const age = clock() - at;
    if (age > 60_000 || (!map.has(meter) && age > 1_000)) {
      map = new Map();
      for (const id of prepaid.verifiedAccounts()) for (const m of prepaid.account(id).meters) map.set(m, id);
      at = clock();
    }
    return map.get(meter);
  };
}

/**
 * Why a meter's relay may not be closed: its prepaid account is at or below its cut-off level
 * (zero, or minus the emergency credit) and not protected. Given to relay control, which refuses
 * every restore while it says so — a schedule's morning, a power-limit restore, a person's.
 */
export function creditVeto(prepaid: Prepaid, clock: Clock): (meter: string) => string | null {
  const accountOf = meterAccounts(prepaid, clock);
  return (meter) => {
    const id = accountOf(meter);
    if (!id) return null;
    const a = prepaid.account(id);
    if (a.protected) return null;
    const cutoffAt = -levelsFor(prepaid.policy, a.customerType).emergencyCreditFen;
    return a.balanceFen <= cutoffAt
      ? `account ${id} is out of credit (${a.balanceFen} fen, cut-off at ${cutoffAt} fen); a top-up restores it`
      : null;
  };
}

export function createDormPower(d: DormPowerDeps): RunningDormPower {
  const log = d.logger.child({ component: 'dorm-power' });
  const proposals = new PolicyProposals(d.db, d.audit, d.control, d.clock);
  const timezone = d.campus.config.campus.timezone;
  const meters = campusMeters(d.campus.config);
  const schedules = new ScheduleRunner({
    ...{ db: d.db, audit: d.audit, control: d.control, proposals, clock: d.clock, logger: d.logger },
    schedules: d.campus.config.schedules,
    meters,
    locate: d.locate,
    timezone,
  });
  const accountOf = meterAccounts(d.prepaid, d.clock);
  const trips = new Trips(d.db, d.audit, d.clock);
  const limitsConfig = d.campus.config.powerLimits;
  const limits = new PowerLimitWatcher({
    ...{ control: d.control, proposals, trips, store: d.store, clock: d.clock, logger: d.logger, timezone },
    config: limitsConfig,
    relayMeters: meters.filter((m) => d.locate(m.id)?.hasRelay).map((m) => m.id),
    customerTypeOf: (meter) => {
      const id = accountOf(meter);
      return id ? d.prepaid.account(id).customerType : undefined;
    },
  });
  const current = (subject: string): PolicyVersion | undefined => {
    if (subject === 'power-limits') return limits.version();
    if (!subject.startsWith('schedule:')) return undefined;
    const s = schedules.schedule(subject.slice('schedule:'.length));
    return s ? schedules.version(s).version : undefined;
  };

  // One pass at a time: two could both see an order undone and both ask.
  let queue: Promise<void> = Promise.resolve();
  const inTurn = (fn: () => Promise<unknown>): Promise<void> => {
    const p = queue.then(async () => {
      await fn();
    });
    queue = p.catch(() => undefined);
    return p;
  };
  // A caller's pass is logged here; a timer's by its timer, with the job's name.
  const serial = (fn: () => Promise<unknown>): Promise<void> => {
    const p = inTurn(fn);
    p.catch((err: unknown) => log.error({ err }, 'dorm power pass failed'));
    return p;
  };
  const tick = () =>
    serial(async () => {
      await schedules.tick();
      await limits.tick();
    });
  const timers = [
    everyInterval(
      'dorm power schedules',
      d.scheduleTickMs ?? 30_000,
      () => inTurn(() => schedules.tick()),
      log,
    ),
    everyInterval('dorm power limits', limitsConfig.checkEvery, () => inTurn(() => limits.tick()), log),
  ];

  return {
    proposals,
    schedules,
    limits,
    tick,
    tripIllegalLoad: (meter, evidence) => serial(() => limits.tripIllegalLoad(meter, evidence)),
    routes: (clock) => [
      ...standingPolicyRoutes({ proposals, runner: schedules, timezone, clock, current }),
      ...powerLimitRoutes({ watcher: limits, trips, limits: limitsConfig }),
    ],
    async stop() {
      await Promise.all(timers.map((t) => t.stop()));
      await queue;
    },
  };
}
