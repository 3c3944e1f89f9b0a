import type { Logger } from 'pino';
import type { LoadedCampus } from '../../../config/campus.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { everyInterval } from '../../platform/timers.ts';
import { floorToStep, localTimeToUtc, wallClock } from '../../metering/consumption/zone.ts';
import { campusTree } from '../../metering/live/tree.ts';
import { UsePlans } from '../../metering/plans/plans.ts';
import { planRoutes } from '../../metering/plans/routes.ts';
import type { ValidatedSource } from '../../metering/vee/types.ts';
import type { ReadingStore } from '../../metering/storage.ts';
import type { BillRuns } from '../../money/billing/bill-run.ts';
import type { TariffStore } from '../../money/billing/tariff-store.ts';
import type { Prepaid } from '../../money/prepaid/index.ts';
import type { ControlMqtt } from '../../operations/control/mqtt.ts';
import { PlannedOutages, type PlannedOutage } from '../../operations/outages/outages.ts';
import { outageRoutes } from '../../operations/outages/routes.ts';
import { OutageNotices, type OutageContact } from '../../operations/outages/outage-notices.ts';
import { noticeChannels } from './customers.ts';
import { CapacityApplications } from '../../operations/capacity/capacity.ts';
import { capacityRoutes } from '../../operations/capacity/routes.ts';
import { publicRoutes } from '../public/routes.ts';
import { loadWindowData } from '../public/window-data.ts';
import type { DEMO_CAPACITY, DemoOutage, DemoPlan } from '../../../simulators/scenario/demo-outages.ts';
import type { RouteFn } from './api.ts';

/**
 * The operations desk and the public window: planned outages (their coverage for the live view,
 * detection and the prepaid policy, and the timer that records what the readings showed) and the
 * public routes. An approved or cancelled notice is published retained on
 * `campus/v1/outages/<id>` for the campus's messaging platform (which knows how to reach each
 * account); a failed publish is logged and retried by the next change, never undoes the approval.
 */

export interface OperationsDeskDeps {
  campus: LoadedCampus;
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  prepaid: Prepaid;
  store: ReadingStore;
  logger: Logger;
  /** The tariffs as approved, for the public window. */
  tariffStore?: TariffStore;
  /** The back office's broker connection: notices are published on it, retained. */
  link?: ControlMqtt;
  /** How often finished outages are judged from their readings (default 5 min). */
  judgeEveryMs?: number;
}

export interface OperationsDesk {
  outages: PlannedOutages;
  /** For the prepaid policy loop: the outage a meter is in at `now`, if any. */
  outageOf: (meter: string, now: number) => number | undefined;
  /** For the live view: the outage a meter is in now, by the back office's clock. */
  outageNow: (meter: string) => number | undefined;
  /** For detection: whether a finding is explained by a planned outage. */
  explains: PlannedOutages['explains'];
  /**
   * The desk's routes and the public window's, given the services over the readings: the bill
   * runs the disclosure is built from, the validated intervals the annual plans are followed with.
   */
  routes: (records: { billRuns?: BillRuns; vee?: ValidatedSource }) => RouteFn[];
  /** Capacity-increase applications. */
  capacity: CapacityApplications;
  /** Annual use plans, once `routes` was given the validated intervals. */
  plans(): UsePlans | undefined;
  /**
   * Starts the outage notices to customers over the campus file's email and webhook channels,
   * given where each account's customers are reached (their sign-ins); sends what a crash left.
   */
  notify(contacts: (account: string) => readonly OutageContact[]): OutageNotices | undefined;
  /** Judges finished outages now (also what the timer runs). */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

export const OUTAGE_TOPIC = 'campus/v1/outages';

export function createOperationsDesk(d: OperationsDeskDeps): OperationsDesk {
  const log = d.logger.child({ component: 'operations-desk' });
  const timezone = d.campus.config.campus.timezone;
  const announce = outageAnnouncer(d, log);
  const tree = campusTree(d.campus);
  let notices: OutageNotices | undefined;
  let closeChannels = async () => {};
  const kickNotices = () =>
    void notices?.kick().catch((err: unknown) => log.warn({ err }, 'outage notices round failed'));
  const outages = new PlannedOutages({
    ...{ db: d.db, audit: d.audit, clock: d.clock, tree },
    settings: d.campus.config.outages,
    accounts: () => accountsByMeter(d),
    onPublished: (o) => {
      announce(o);
      kickNotices();
    },
  });

  // A crash between an approval's commit and its publish would leave the platform untold: every
  // published notice not yet over goes out again at start (retained, so a repeat changes nothing).
  for (const o of outages.list({ endsAfter: d.clock() })) if (o.publishedAt !== null) announce(o);

  const window = loadWindowData();
  const capacity = capacityDesk(d, tree, window, timezone);
  let plans: UsePlans | undefined;
  const judging = judgeLoop(d, outages, log, () => plans);
  const tick = judging.tick;
  // Deliveries refused earlier are tried again on this beat.
  const noticeRetries = everyInterval('outage notice retries', 30_000, () => notices?.kick(), log);

  return {
    outages,
    outageOf: (meter, now) => outages.outageOf(meter, now)?.id,
    outageNow: (meter) => outages.outageOf(meter, d.clock())?.id,
    explains: (f, now) => outages.explains(f, now),
    routes: ({ billRuns, vee }) => {
      if (vee) plans = new UsePlans({ ...d, tree, timezone, source: vee });
      return [
        ...outageRoutes({ outages, clock: d.clock, notices: () => notices }),
        ...(plans ? planRoutes(plans) : []),
        ...capacityRoutes(capacity),
        ...publicRoutes({
          ...{ outages, timezone, clock: d.clock, campusName: d.campus.config.campus.name },
          ...(d.tariffStore ? { tariffs: d.tariffStore } : {}),
          ...(billRuns ? { billRuns } : {}),
          window,
          capacity,
        }),
      ];
    },
    capacity,
    plans: () => plans,
    notify(contacts) {
      if (notices) return notices;
      const channels = noticeChannels(d);
      if (channels.length === 0) return undefined;
      closeChannels = async () => {
        for (const c of channels) await c.close?.();
      };
      notices = new OutageNotices({
        ...{ db: d.db, outages, channels, contacts, timezone, clock: d.clock },
        retries: d.campus.config.notices.retries,
        onFailed: (f) => log.warn(f, 'outage notice not delivered after its retries'),
      });
      kickNotices();
      return notices;
    },
    tick,
    async stop() {
      await noticeRetries.stop();
      await judging.stop();
      await notices?.close();
      await closeChannels();
    },
  };
}

/** Meter → the verified prepaid accounts it belongs to (who an outage on it concerns). */
function accountsByMeter(d: OperationsDeskDeps): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const id of d.prepaid.verifiedAccounts())
    for (const m of d.prepaid.account(id).meters) map.set(m, [...(map.get(m) ?? []), id]);
  return map;
}

/**
 * Every few minutes: how each outage's window went by the readings (started late, overran), and
 * the annual plans' warning levels. One round at a time; a failed round is logged and retried.
 */
function judgeLoop(
  d: OperationsDeskDeps,
  outages: PlannedOutages,
  log: Logger,
  plans: () => UsePlans | undefined,
): { tick: () => Promise<void>; stop: () => Promise<void> } {
  const timezone = d.campus.config.campus.timezone;
  const job = everyInterval(
    'outage judging',
    d.judgeEveryMs ?? 300_000,
    async () => {
      for (const o of await outages.judge(d.store))
        log.info({ outage: o.id, verdicts: o.observation?.verdicts }, 'outage observed');
      const warned = (await plans()?.warn(wallClock(d.clock(), timezone).year)) ?? [];
      for (const w of warned) log.info(w, 'annual plan reached a warning level');
    },
    log,
  );
  return { tick: job.runNow, stop: job.stop };
}

/** Publishes an outage notice, retained, for the campus's own messaging platform (when linked). */
function outageAnnouncer(d: OperationsDeskDeps, log: Logger): (o: PlannedOutage) => void {
  return (o) => {
    const client = d.link?.client;
    if (!client) return;
    const payload = {
      ...{ v: 1, id: o.id, state: o.state, utility: o.utility, node: o.node },
      ...{ startsAt: o.startsAt, endsAt: o.endsAt, reason: o.reason },
      ...{ buildings: o.affected.buildings, accounts: o.affected.accounts },
    };
    client
      .publishAsync(`${OUTAGE_TOPIC}/${o.id}`, JSON.stringify(payload), { qos: 1, retain: true })
      .catch((err: unknown) => log.warn({ err, outage: o.id }, 'outage notice not published on MQTT'));
  };
}

/**
 * Capacity applications: the published fee standards fix a capacity increase's fee; the campus
 * file's maxPowerKw is an element's rating.
 */
function capacityDesk(
  d: OperationsDeskDeps,
  tree: ReturnType<typeof campusTree>,
  window: ReturnType<typeof loadWindowData>,
  timezone: string,
): CapacityApplications {
  const ratings = new Map<string, number>();
  for (const site of d.campus.config.sites)
    for (const g of site.gateways)
      for (const b of g.buses)
        for (const m of b.meters) if (m.maxPowerKw !== undefined) ratings.set(m.id, m.maxPowerKw);
  return new CapacityApplications({
    ...{ db: d.db, audit: d.audit, clock: d.clock, tree, store: d.store },
    feePerUnitFen: (u) => window.feeStandards.find((f) => f.id === `capacity-${u}`)?.amountFen,
    ratingOf: (m) => ratings.get(m),
    dayStart: (ts) => floorToStep(ts, '1d', timezone),
  });
}

/**
 * The demo's planned outages (simulators/scenario/demo-outages.ts), planned by one demo person and
 * approved by another, as staff would; a node the campus lacks is skipped with a warning.
 */
export function seedDemoOutages(
  outages: PlannedOutages,
  demo: readonly DemoOutage[],
  people: { planner: Actor; approver: Actor },
  timezone: string,
  now: number,
  log: Logger,
): number {
  let n = 0;
  const today = wallClock(now, timezone);
  for (const o of demo) {
    const at = (hour: number) =>
      localTimeToUtc(timezone, today.year, today.month, today.day + o.inDays, hour);
    try {
      const p = outages.plan(people.planner, {
        ...{ utility: o.utility, node: o.node, reason: o.reason },
        ...{ startsAt: at(o.fromHour), endsAt: at(o.toHour) },
      });
      outages.approve(people.approver, p.id, 'demo');
      n++;
    } catch (err) {
      log.warn({ err, node: o.node }, 'demo outage not planned');
    }
  }
  return n;
}

/** The demo's annual plans for the current year, proposed and approved by two demo people. */
export function seedDemoPlans(
  plans: UsePlans,
  demo: readonly DemoPlan[],
  people: { planner: Actor; approver: Actor },
  year: number,
  log: Logger,
): number {
  let n = 0;
  for (const p of demo) {
    try {
      plans.approve(people.approver, plans.propose(people.planner, { ...p, year }).id);
      n++;
    } catch (err) {
      log.warn({ err, unit: p.unit }, 'demo plan not made');
    }
  }
  return n;
}

/** The demo's capacity application, recorded by one demo person and reviewed by another. */
export async function seedDemoCapacity(
  capacity: CapacityApplications,
  demo: typeof DEMO_CAPACITY,
  people: { clerk: Actor; reviewer: Actor },
  log: Logger,
): Promise<number | null> {
  try {
    const a = capacity.apply(people.clerk, demo);
    await capacity.review(people.reviewer, a.id, 'demo: checked against the substation');
    return a.id;
  } catch (err) {
    log.warn({ err }, 'demo capacity application not made');
    return null;
  }
}
