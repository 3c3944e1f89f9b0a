import type { Logger } from 'pino';
import type { AuditLog } from '../platform/audit/audit-log.ts';
import type { Actor } from '../platform/auth/roles.ts';
import { floorToStep } from '../metering/consumption/zone.ts';
import { POLICY_ACTOR, type RelayControl, type RelayRequest } from '../operations/control/relay-control.ts';
import type { PolicyAction, Prepaid } from '../money/prepaid/index.ts';
import type { ReadingStore, StoredReading } from '../metering/storage.ts';
import type { Clock } from '../platform/db.ts';
import { everyInterval } from '../platform/timers.ts';

/**
 * The prepaid policy loop: every `intervalMs`, for each account whose tariff type is verified,
 * debit the metered days that have ended since the last debit, then ask the policy what the
 * balance calls for and do it — raise a cut-off or restore request (which waits for a
 * supervisor, or a standing policy approval), record a low-balance alarm, or record that a
 * cut-off is held (friendly hours, protected account).
 *
 * The loop remembers what it already said: an alarm is audited once per level change (level 1,
 * level 2, cleared), a hold once per episode, and a cut-off or restore is not requested again
 * while one is open for the meter. A policy-raised request still waiting for approval is
 * cancelled when the balance no longer calls for it (the customer paid) or when friendly hours
 * begin, so that a supervisor cannot approve a stale cut-off late at night.
 *
 * One account's failure (a store that is down, a refused request) is logged with its id and the
 * loop goes on with the others.
 */

/**
 * The loop's identity: a machine (token kind) that may only debit consumption. Relay requests are
 * raised through `requestFromPolicy`, which records them under the same id.
 */
export const POLICY_SYSTEM_ACTOR: Actor = {
  id: POLICY_ACTOR,
  kind: 'token',
  roles: ['billing'],
  scopes: ['consumption.debit'],
};

/** Audit actions the loop writes, subject `account:<id>`. */
export const POLICY_AUDIT = {
  alarm: 'prepaid.alarm',
  alarmCleared: 'prepaid.alarm-cleared',
  held: 'prepaid.cutoff-held',
} as const;

export type Supply = 'on' | 'off';

/** The policy loop's deps. */
export interface PolicyLoopOptions {
  prepaid: Prepaid;
  control: RelayControl;
  audit: AuditLog;
  store: ReadingStore;
  logger: Logger;
  /** The zone whose local days are debited (the tariff table's). */
  timezone: string;
  /** Whether a meter has a relay the control service can switch. */
  hasRelay: (meter: string) => boolean;
  clock?: Clock;
  /** Default 60 s. */
  intervalMs?: number;
  /**
   * A relay reading counts over the last acknowledged command only if it was taken this long after
   * the ack (clock skew between gateway and back office; default 10 s).
   */
  readingGraceMs?: number;
  /**
   * The planned outage a meter is in at `now`, if any (parts/operations-desk.ts): its relay is
   * neither cut nor restored then — the supply is off on purpose and comes back by the plan.
   */
  plannedOutage?: (meter: string, now: number) => number | undefined;
}

export interface MeterOutcome {
  meter: string;
  supply: Supply;
  pending?: 'cutoff' | 'restore';
  actions: PolicyAction[];
  requested?: number;
  cancelled?: number;
}

export interface AccountOutcome {
  account: string;
  debited: number;
  balanceFen: number;
  meters: MeterOutcome[];
  error?: string;
}

export interface PolicyLoop {
  /** One pass over every verified account (also what the timer runs). */
  runOnce(): Promise<AccountOutcome[]>;
  /** Stops the timer and waits for a pass under way. */
  stop(): Promise<void>;
}

const OPEN_STATES: ReadonlySet<RelayRequest['state']> = new Set(['pending', 'approved', 'sent']);
/** The open reason (relay-holds.ts) the balance adds and releases. */
const CREDIT_HOLD = 'credit';

/** One pass over the accounts, and what the loop remembers between passes. */
class PolicyPass {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly graceMs: number;
  /** The last alarm level said per account, so that an alarm is audited once per level change. */
  private readonly alarmLevels = new Map<string, 0 | 1 | 2>();
  /** The hold reason said per account, so that a hold is audited once per episode. */
  private readonly holds = new Map<string, string>();
  private readonly reportedSkips = new Set<string>();

  constructor(private readonly o: PolicyLoopOptions) {
    this.log = o.logger.child({ component: 'prepaid-policy' });
    this.clock = o.clock ?? Date.now;
    this.graceMs = o.readingGraceMs ?? 10_000;
  }

  async run(): Promise<AccountOutcome[]> {
    const out: AccountOutcome[] = [];
    for (const id of this.o.prepaid.verifiedAccounts()) {
      try {
        out.push(await this.runAccount(id));
      } catch (err) {
        this.log.error({ account: id, err }, 'policy step failed for an account');
        out.push({ account: id, debited: 0, balanceFen: 0, meters: [], error: (err as Error).message });
      }
    }
    return out;
  }

  private async runAccount(account: string): Promise<AccountOutcome> {
    const { prepaid, store } = this.o;
    const a = prepaid.account(account);
    const debited = await this.debit(account, a.openedAt, this.clock());
    const now = this.clock();
    const relayMeters = a.meters.filter((m) => this.o.hasRelay(m) && !this.o.plannedOutage?.(m, now));
    const readings = relayMeters.length > 0 ? await store.latest(relayMeters) : [];
    const outcomes: MeterOutcome[] = [];
    for (const meter of relayMeters) {
      try {
        const reading = readings.find((r) => r.meter === meter);
        outcomes.push(await this.meterOutcome(account, meter, reading, now));
      } catch (err) {
        this.log.error({ account, meter, err }, 'policy step failed for a meter');
      }
    }
    if (relayMeters.length === 0) {
      // Nothing to switch: the balance still raises alarms, and a due cut-off shows as held.
      const actions = prepaid.evaluate(account, { supply: 'on' }, now);
      outcomes.push({ meter: '', supply: 'on', actions });
      if (actions.some((x) => x.type === 'request-cutoff')) {
        this.log.warn({ account, meters: a.meters }, 'cut-off due but the account has no relay meter');
      }
    }
    const balanceFen = prepaid.balance(account);
    this.recordAlarm(account, outcomes, balanceFen);
    this.recordHold(account, outcomes, balanceFen);
    return { account, debited, balanceFen, meters: outcomes.filter((o) => o.meter !== '') };
  }

  /** The last alarm level the audit log records for the account (0: none, or cleared). */
  private recordedAlarmLevel(account: string): 0 | 1 | 2 {
    const known = this.alarmLevels.get(account);
    if (known !== undefined) return known;
    const [last] = this.o.audit.query({
      subject: `account:${account}`,
      action: POLICY_AUDIT.alarm,
      newestFirst: true,
      limit: 1,
    });
    const level =
      last?.action === POLICY_AUDIT.alarm ? ((last.after as { level?: 1 | 2 } | null)?.level ?? 0) : 0;
    this.alarmLevels.set(account, level);
    return level;
  }

  private async debit(account: string, openedAt: number, now: number): Promise<number> {
    const { prepaid, timezone, store } = this.o;
    const from = prepaid.lastDebitEnd(account) ?? openedAt;
    // Only days that have ended can be debited; asking for today would read its readings for nothing.
    const to = floorToStep(now, '1d', timezone);
    if (from >= to) return 0;
    const result = await prepaid.debitConsumption(POLICY_SYSTEM_ACTOR, { account, from, to }, store);
    for (const s of result.skipped) {
      if (s.why === 'already-debited' || s.why === 'not-ended') continue;
      const key = `${account}/${s.meter}/${s.start}/${s.why}`;
      if (this.reportedSkips.has(key)) continue;
      this.reportedSkips.add(key);
      // A gap is retried on every pass until a later day is debited; then it is left for VEE.
      this.log.warn({ account, ...s }, 'consumption not debited');
    }
    if (result.debited.length > 0) {
      const fen = result.debited.reduce((n, e) => n + e.amountFen, 0);
      this.log.info({ account, entries: result.debited.length, fen }, 'consumption debited');
    }
    return result.debited.length;
  }

  /** When the gateway's ack of a request was recorded (its approval time if the log says nothing). */
  private ackTime(req: RelayRequest): number {
    const [ack] = this.o.audit.query({
      subject: `relay-request:${req.id}`,
      action: 'relay.ack',
      newestFirst: true,
      limit: 1,
    });
    return ack?.at ?? req.decidedAt ?? req.requestedAt;
  }

  /**
   * The relay as last known: the newer of the last carried-out command (its read-back state in
   * the gateway's ack) and the meter's own newest relay reading. With neither, the relay is
   * assumed closed, as meters are delivered. A restore acked `armed` (DL/T 645 allow closing) is
   * supplied: the customer closes the relay with the button when they choose, so an open reading
   * after it is not a cut-off to restore again (each pass would send another command).
   */
  private supplyOf(requests: readonly RelayRequest[], reading: StoredReading | undefined): Supply {
    const last = requests.findLast((r) => (r.state === 'done' || r.state === 'armed') && r.observed !== null);
    if (last?.state === 'armed') return 'on';
    const done = last;
    const relay = reading?.quality === 'good' ? reading.values.relay_closed : undefined;
    if (relay !== undefined && (!done || reading!.ts > this.ackTime(done) + this.graceMs)) {
      return relay >= 0.5 ? 'on' : 'off';
    }
    if (done) return done.observed === 'open' ? 'off' : 'on';
    return 'on';
  }

  private async meterOutcome(
    account: string,
    meter: string,
    reading: StoredReading | undefined,
    now: number,
  ): Promise<MeterOutcome> {
    const requests = this.o.control.list({ meter });
    const holds = this.o.control.holds(meter).map((h) => h.hold);
    // Held open by something else (a schedule, a trip, a person): the balance is judged as if the
    // room were supplied, so that its own cut-off is on record before anything closes the relay.
    const heldByOthers = holds.some((h) => h !== CREDIT_HOLD);
    const supply = heldByOthers
      ? holds.includes(CREDIT_HOLD)
        ? 'off'
        : 'on'
      : this.supplyOf(requests, reading);
    const open = requests.find((r) => OPEN_STATES.has(r.state));
    const out: MeterOutcome = { meter, supply, actions: [] };
    if (
      open?.state === 'pending' &&
      open.source === 'policy' &&
      open.requestedBy === POLICY_ACTOR &&
      this.withdrawIfStale(account, open, out, heldByOthers, now)
    ) {
      return out;
    }
    if (open) out.pending = open.action === 'open' ? 'cutoff' : 'restore';
    out.actions = this.evaluate(account, supply, out.pending, heldByOthers, now);
    for (const a of out.actions) {
      if (a.type !== 'request-cutoff' && a.type !== 'request-restore') continue;
      const req = await this.o.control.requestFromPolicy({
        meter,
        action: a.type === 'request-cutoff' ? 'open' : 'close',
        reason: a.reason,
        hold: CREDIT_HOLD,
      });
      out.requested = req.id;
      this.log.info(
        { account, meter, request: req.id, action: req.action, state: req.state },
        'policy relay request',
      );
    }
    return out;
  }

  /**
   * What the balance calls for. Friendly hours keep a room's power on; a relay another reason
   * already holds open is not on, so the credit cut-off is recorded at once (it moves nothing) and
   * the morning cannot close the room.
   */
  private evaluate(
    account: string,
    supply: Supply,
    pending: MeterOutcome['pending'],
    heldByOthers: boolean,
    now: number,
  ): PolicyAction[] {
    return this.o.prepaid
      .evaluate(account, { supply, ...(pending ? { pending } : {}) }, now)
      .map((a) =>
        heldByOthers && a.type === 'hold' && a.reason !== 'protected'
          ? { type: 'request-cutoff' as const, reason: `${a.detail}; the relay is already open` }
          : a,
      );
  }

  /**
   * Cancels the policy's own pending request when the balance no longer calls for it (the customer
   * paid, or friendly hours began); returns whether it did, with `out` filled in.
   */
  private withdrawIfStale(
    account: string,
    open: RelayRequest,
    out: MeterOutcome,
    heldByOthers: boolean,
    now: number,
  ): boolean {
    const { prepaid, control } = this.o;
    const want = open.action === 'open' ? 'request-cutoff' : 'request-restore';
    const unpended = this.evaluate(account, out.supply, undefined, heldByOthers, now);
    if (unpended.some((a) => a.type === want)) return false;
    const hold = unpended.find((a) => a.type === 'hold');
    const reason = hold
      ? `no longer due: ${hold.detail}`
      : `no longer due: balance ${prepaid.balance(account)} fen`;
    control.cancel(POLICY_SYSTEM_ACTOR, open.id, reason);
    out.cancelled = open.id;
    this.log.info({ account, meter: out.meter, request: open.id, reason }, 'policy relay request withdrawn');
    out.actions = unpended;
    return true;
  }

  private recordAlarm(account: string, outcomes: readonly MeterOutcome[], balanceFen: number): void {
    // Only an evaluation of a supplied meter says anything about alarms; a cut-off account keeps its level.
    if (!outcomes.some((o) => o.supply === 'on')) return;
    const alarms = outcomes.flatMap((o) => o.actions).filter((a) => a.type === 'alarm');
    const top = alarms.reduce<(typeof alarms)[number] | undefined>(
      (m, a) => (!m || a.level > m.level ? a : m),
      undefined,
    );
    const level = top?.level ?? 0;
    const before = this.recordedAlarmLevel(account);
    if (level === before) return;
    this.alarmLevels.set(account, level);
    const subject = `account:${account}`;
    if (top) {
      this.log.warn({ account, level, balanceFen, thresholdFen: top.thresholdFen }, 'low balance');
      this.o.audit.append({
        actor: POLICY_ACTOR,
        action: POLICY_AUDIT.alarm,
        subject,
        before: { level: before },
        after: { level, balanceFen, thresholdFen: top.thresholdFen },
        reason: `balance ${balanceFen} fen is at or below ${top.thresholdFen} fen`,
      });
    } else {
      this.o.audit.append({
        actor: POLICY_ACTOR,
        action: POLICY_AUDIT.alarmCleared,
        subject,
        before: { level: before },
        after: { level: 0, balanceFen },
      });
    }
  }

  private recordHold(account: string, outcomes: readonly MeterOutcome[], balanceFen: number): void {
    const hold = outcomes.flatMap((o) => o.actions).find((a) => a.type === 'hold');
    if (!hold) {
      this.holds.delete(account);
      return;
    }
    if (this.holds.get(account) === hold.reason) return;
    this.holds.set(account, hold.reason);
    this.log.info({ account, reason: hold.reason, balanceFen }, 'cut-off held');
    this.o.audit.append({
      actor: POLICY_ACTOR,
      action: POLICY_AUDIT.held,
      subject: `account:${account}`,
      after: { hold: hold.reason, balanceFen, meters: outcomes.map((o) => o.meter) },
      reason: hold.detail,
    });
  }
}

/** Starts the loop: one pass every `intervalMs`, and `runOnce()` for a pass now. */
export function createPolicyLoop(deps: PolicyLoopOptions): PolicyLoop {
  const passes = new PolicyPass(deps);
  const log = deps.logger.child({ component: 'prepaid-policy' });
  const intervalMs = deps.intervalMs ?? 60_000;
  // One pass at a time, whether the timer or a caller started it: two passes could both see a
  // meter without an open request and both raise one.
  let queue: Promise<unknown> = Promise.resolve();
  const inTurn = (): Promise<AccountOutcome[]> => {
    const p = queue.then(() => passes.run());
    queue = p.catch(() => undefined);
    return p;
  };
  // A caller's failed pass is logged here; the timer's by the timer, with the job's name.
  const runOnce = (): Promise<AccountOutcome[]> => {
    const p = inTurn();
    p.catch((err: unknown) => log.error({ err }, 'policy pass failed'));
    return p;
  };
  const timer = everyInterval('prepaid policy pass', intervalMs, inTurn, log);

  return {
    runOnce,
    async stop() {
      await timer.stop();
      await queue;
    },
  };
}

/** The former name of createPolicyLoop: the same factory. */
export const startPolicyLoop = createPolicyLoop;
