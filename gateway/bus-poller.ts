import { monotonicNow, wallTimeOf } from './monotonic.ts';
import { EnergySteps } from './energy-steps.ts';
import type { Logger } from 'pino';
import { planReads, type ReadBlock } from '../adapters/modbus/planner.ts';
import { decodePoll, type DecodeContext } from '../adapters/modbus/decode.ts';
import { ModbusError } from '../adapters/modbus/errors.ts';
import type { BusConfig, MeterConfig } from '../config/schemas/campus.ts';
import { pointRollover, type Profile } from '../config/schemas/profile.ts';
import type { ReadingError } from '../config/schemas/reading.ts';
import { CircuitBreaker } from './breaker.ts';
import { lineBudget, type LineBudget } from './line-budget.ts';
import { DeviceHealthTracker } from './device-health.ts';
import type { PollResult, RegisterTransport } from './types.ts';
import type { FieldProfile } from '../adapters/protocols.ts';
import {
  fieldSwitchOf,
  isCostlyFieldCode,
  fieldBusOf,
  isFieldError,
  isFieldProfile,
  pollFieldMeter,
  type FieldSwitch,
} from './field-line.ts';

export interface PollTarget {
  readonly meter: MeterConfig;
  /** A Modbus profile, or a DL/T 645 / CJ/T 188 one on a line of that protocol. */
  readonly profile: Profile | FieldProfile;
  /** The relay or valve switch of a field-protocol meter (field-line.ts); Modbus relays are written by commands.ts. */
  readonly switchField?: FieldSwitch;
  readonly blocks: readonly ReadBlock[];
  readonly breaker: CircuitBreaker;
  readonly health: DeviceHealthTracker;
  /** Names the bus and meter in a decoding error; made once, not at every poll. */
  readonly decodeContext: DecodeContext;
  /** Whether each reading's cumulative registers moved plausibly since the last. */
  readonly steps: EnergySteps;
  nextDue: number;
  /** When this meter first became due for the poll it is waiting for. */
  waitingSince: number;
}

export interface BusPollerOptions {
  bus: BusConfig;
  profiles: ReadonlyMap<string, Profile | FieldProfile>;
  openTransport: () => Promise<RegisterTransport>;
  onResult: (meter: MeterConfig, result: PollResult) => void;
  logger: Logger;
}

/** Meters of one model share one read plan: ten thousand meters need only a handful of plans. */
const plans = new WeakMap<Profile, readonly ReadBlock[]>();
function planFor(profile: Profile): readonly ReadBlock[] {
  let plan = plans.get(profile);
  if (!plan) plans.set(profile, (plan = planReads(profile)));
  return plan;
}

/** Time a poll may take beyond its timeout before we call the slack too thin to risk it. */
const SLACK_MARGIN_MS = 20;
/**
 * The share of a line's time that probes of open breakers may take from healthy meters (a probe of
 * a dead meter costs a whole timeout). A quarter keeps a line with one dead meter among busy ones
 * within a quarter of its capacity while still probing each open breaker on time; probes that find
 * the line idle cost nothing from it.
 */
export const PROBE_SHARE = 0.25;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30_000;

/**
 * Work that needs the line for itself (a relay write and its read-back), run by the scheduler
 * between two polls. It gets the open transport and the bus's per-request timeout.
 */
export type BusJob<T> = (transport: RegisterTransport, timeoutMs: number) => Promise<T>;

interface QueuedJob {
  run: BusJob<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * One scheduler per physical bus: a serial line, an RTU-over-TCP converter or a Modbus TCP
 * endpoint. It keeps exactly one request in flight, because that is all an RS-485 line can carry,
 * and it protects the healthy meters on the line from a broken one:
 *
 * - a timeout opens the meter's breaker at once (it cost the line a whole timeout); any other
 *   failure, a bad frame included, only after `breaker.failures` in a row, so a single bad frame
 *   leaves the meter on its next poll; while open, the meter gets a BREAKER_OPEN error reading
 *   each interval instead of a poll;
 * - an open breaker is probed again within max(the meter's poll interval, `breaker.baseBackoff`)
 *   (the probe interval): its backoff doubles from `baseBackoff` but never beyond that (nor beyond
 *   `breaker.maxBackoff`), so a meter that recovers is read again within it;
 * - a probe may cost a whole timeout. It runs in slack (no healthy meter due before it could end),
 *   or else ahead of the healthy meters out of a budget of PROBE_SHARE of the line's time, so
 *   that probes cannot starve on a saturated line and cannot take it over on a line of dead meters;
 * - a costly failure (timeout; on RTU lines also a bad frame, which forces a line silence) is
 *   not retried inside the poll; on Modbus TCP a bad frame is, up to `bus.retries` times.
 */
export class BusPoller {
  readonly targets: PollTarget[];
  private transport: RegisterTransport | null = null;
  private reconnectAt = 0;
  private reconnectDelay = RECONNECT_MIN_MS;
  private lastConnectError: ReadingError | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> | null = null;
  private readonly jobs: QueuedJob[] = [];
  /** Set by pollOnce: its failure was the bus's (not reachable), which is not the meter's fault. */
  private busDown = false;
  /** The bus as a DL/T 645 or CJ/T 188 line, or undefined for Modbus. */
  private readonly line: ReturnType<typeof fieldBusOf>;
  /** The wire time the configured polls need (serial lines), or null where it is not known. */
  readonly budget: LineBudget | null;
  /** Line time (ms) probes may still take from healthy meters; refilled at PROBE_SHARE. */
  private probeBudget = 0;
  private probeBudgetAt: number;
  /** The probe paid from the budget that is running, with what it was charged. */
  private chargedProbe: { target: PollTarget; cost: number } | null = null;

  constructor(private readonly opts: BusPollerOptions) {
    const start = monotonicNow();
    this.probeBudgetAt = start;
    this.line = fieldBusOf(opts.bus);
    const n = opts.bus.meters.length;
    this.targets = opts.bus.meters.map((meter, i) => {
      const profile = opts.profiles.get(meter.profile);
      if (!profile) throw new Error(`meter ${meter.id}: unknown profile ${meter.profile}`);
      // The probe interval: a recovering meter is read again within it, however long it was away.
      const probeEvery = Math.max(meter.pollInterval, opts.bus.breaker.baseBackoff);
      const breaker = new CircuitBreaker({
        ...opts.bus.breaker,
        maxBackoff: Math.min(opts.bus.breaker.maxBackoff, probeEvery),
      });
      // Spread first polls over the interval so a bus does not start with everyone due at once.
      const nextDue = start + Math.floor((i * meter.pollInterval) / Math.max(1, n));
      const switchField = fieldSwitchOf(opts.bus, meter, profile);
      return {
        meter,
        profile,
        blocks: isFieldProfile(profile) ? [] : planFor(profile),
        breaker,
        health: new DeviceHealthTracker(`${opts.bus.id}.${meter.unitId}`, breaker),
        decodeContext: { device: opts.bus.id, meter: meter.id },
        steps: new EnergySteps({
          ...(meter.maxPowerKw !== undefined ? { maxPowerKw: meter.maxPowerKw } : {}),
          rolloverAt: (q) => {
            if (meter.rolloverAt !== undefined) return meter.rolloverAt;
            const point = isFieldProfile(profile) ? undefined : profile.points.find((p) => p.quantity === q);
            return point ? pointRollover(point) : undefined;
          },
        }),
        nextDue,
        waitingSince: nextDue,
        ...(switchField ? { switchField } : {}),
      };
    });
    this.budget = lineBudget(
      opts.bus,
      this.targets.map((t) => ({ pollInterval: t.meter.pollInterval, blocks: t.blocks })),
    );
    if (this.budget && this.budget.load > 1) {
      const achievable = this.targets.map((t) => Math.ceil(t.meter.pollInterval * this.budget!.stretch));
      opts.logger.warn(
        {
          bus: opts.bus.id,
          wireLoad: Number(this.budget.load.toFixed(2)),
          achievableIntervalMs: Math.max(...achievable),
        },
        `bus ${opts.bus.id} is overloaded: its polls need ${Math.round(this.budget.load * 100)} % of the line's wire time; every meter will be read less often than configured (achievable: each interval × ${this.budget.stretch.toFixed(2)})`,
      );
    }
  }

  get id(): string {
    return this.opts.bus.id;
  }

  start(): void {
    this.loopDone ??= this.loop().catch((err: unknown) => {
      this.opts.logger.fatal({ err, bus: this.id }, 'bus scheduler crashed');
    });
  }

  /**
   * Runs `job` on this bus's line between two polls, so that the line still carries one request at
   * a time. Jobs go before any due poll (they are rare and someone is waiting for them). Rejects
   * with MODBUS_DISCONNECTED if the bus cannot be reached, and if the poller is stopped before the
   * job ran.
   */
  runBetweenPolls<T>(job: BusJob<T>): Promise<T> {
    if (this.stopped) {
      return Promise.reject(
        new ModbusError('MODBUS_DISCONNECTED', `bus ${this.id}: stopped`, { device: this.id }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      this.jobs.push({ run: job, resolve: resolve as (value: unknown) => void, reject });
      this.wake?.();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loopDone;
    for (const job of this.jobs.splice(0)) {
      job.reject(new ModbusError('MODBUS_DISCONNECTED', `bus ${this.id}: stopped`, { device: this.id }));
    }
    await this.transport?.close().catch(() => undefined);
    this.transport = null;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const job = this.jobs.shift();
      if (job) {
        await this.runJob(job);
        continue;
      }
      const now = monotonicNow();
      const { target, wakeAt } = this.pickNext(now);
      if (!target) {
        await this.sleep(Math.max(1, wakeAt - now));
        continue;
      }
      await this.pollTarget(target, now);
    }
  }

  private async runJob(job: QueuedJob): Promise<void> {
    const transport = await this.ensureTransport();
    if (!transport) {
      job.reject(new ModbusError('MODBUS_DISCONNECTED', this.lastConnectError!.message, { device: this.id }));
      return;
    }
    try {
      job.resolve(await job.run(transport, this.opts.bus.timeout));
    } catch (err) {
      if ((err instanceof ModbusError && err.code === 'MODBUS_DISCONNECTED') || !transport.isOpen) {
        await this.dropTransport();
      }
      job.reject(err);
    }
  }

  /**
   * The meter to poll now, or when to look again. Meters whose breaker is open are not polled;
   * when their poll falls due they get an error reading saying so, so that every interval of
   * every meter is accounted for. A breaker ready for its probe waits for slack on the line.
   */
  pickNext(now: number): { target: PollTarget | null; wakeAt: number } {
    let healthy: PollTarget | null = null;
    let probe: PollTarget | null = null;
    let nextHealthyDue = Infinity;
    let wakeAt = Infinity;
    // Made only when a breaker is open: on a healthy bus pickNext runs at every poll.
    let open: PollTarget[] | null = null;
    for (const t of this.targets) {
      if (t.breaker.state === 'closed') {
        nextHealthyDue = Math.min(nextHealthyDue, t.nextDue);
        if (t.nextDue <= now) {
          if (!healthy || t.nextDue < healthy.nextDue) healthy = t;
        } else wakeAt = Math.min(wakeAt, t.nextDue);
        continue;
      }
      (open ??= []).push(t);
      const ready = Math.max(t.waitingSince, t.breaker.notBefore);
      if (ready <= now) {
        if (!probe || t.waitingSince < probe.waitingSince) probe = t;
      } else wakeAt = Math.min(wakeAt, ready);
    }
    let target = healthy;
    if (probe) {
      // In slack the probe costs the healthy meters nothing; otherwise it goes first, paid from
      // the budget, so that a line that is never idle still probes (a recovering meter was left
      // unread for the whole maximum backoff there).
      const cost = this.probeCost;
      const budget = this.refillProbeBudget(now, cost);
      if (!healthy && now + cost <= nextHealthyDue) target = probe;
      else if (budget >= cost) {
        // Charged its worst case now; what it did not use is refunded when it ends (pollTarget).
        this.probeBudget -= cost;
        this.chargedProbe = { target: probe, cost };
        target = probe;
      } else if (!healthy) wakeAt = Math.min(wakeAt, nextHealthyDue);
      if (target !== probe) {
        wakeAt = Math.min(wakeAt, now + Math.ceil((cost - budget) / PROBE_SHARE));
      }
    }
    for (const t of open ?? []) {
      if (t === target) continue;
      if (t.nextDue <= now) this.skip(t, now);
      wakeAt = Math.min(wakeAt, t.nextDue);
    }
    return { target, wakeAt: wakeAt === Infinity ? now + 1000 : wakeAt };
  }

  /**
   * The probe budget at `now`: PROBE_SHARE of the time since the last refill, at most one probe,
   * so that a healthy meter waits for one probe at a time, never for a run of them.
   */
  private refillProbeBudget(now: number, cost: number): number {
    this.probeBudget = Math.min(cost, this.probeBudget + (now - this.probeBudgetAt) * PROBE_SHARE);
    this.probeBudgetAt = now;
    return this.probeBudget;
  }

  private skip(t: PollTarget, now: number): void {
    const last = t.health.snapshot(Date.now()).lastError;
    const error: ReadingError = {
      code: 'BREAKER_OPEN',
      message:
        `bus ${this.id}, meter ${t.meter.id}: not polled, breaker open after ${t.breaker.failures} failed polls` +
        (last ? ` (last: ${last.code})` : ''),
    };
    const ts = wallTimeOf(t.nextDue);
    this.advance(t, now, false);
    this.opts.onResult(t.meter, { ts, error });
  }

  private async pollTarget(t: PollTarget, now: number): Promise<void> {
    t.breaker.allow(now);
    const result = await this.pollOnce(t, Date.now());
    const busDown = this.busDown;
    const finished = monotonicNow();
    if (this.chargedProbe?.target === t) {
      // The share is of line time really taken: a probe that found the meter back cost a poll,
      // not a timeout, so the next recovering meter need not wait for a timeout's worth of budget.
      const unused = this.chargedProbe.cost - (finished - now);
      this.probeBudget = Math.min(this.chargedProbe.cost, this.probeBudget + Math.max(0, unused));
      this.chargedProbe = null;
    }
    if ('error' in result) {
      // A bus that cannot be reached is not the meter's fault: do not trip its breaker for it.
      if (!busDown) t.breaker.failure(finished, this.opensAtOnce(result.error.code));
      t.health.record(false, null, result.error);
    } else {
      t.breaker.success();
      t.health.record(true, finished - now);
    }
    this.advance(t, finished);
    this.opts.onResult(t.meter, t.steps.judge(result));
  }

  /** Next due time on the meter's own grid; polls missed while the line was busy are skipped. */
  private advance(t: PollTarget, now: number, polled = true): void {
    const interval = t.meter.pollInterval;
    t.nextDue += interval;
    if (t.nextDue <= now) t.nextDue += Math.ceil((now - t.nextDue) / interval) * interval;
    if (polled) t.waitingSince = Math.max(t.nextDue, t.breaker.notBefore);
  }

  /** One poll of the meter; `busDown` says whether the failure was the bus's, not the meter's. */
  private async pollOnce(t: PollTarget, ts: number): Promise<PollResult> {
    this.busDown = false;
    // An open transport is used as it is: awaiting ensureTransport for it cost every poll a turn.
    const transport = this.transport?.isOpen ? this.transport : await this.ensureTransport();
    if (!transport) {
      this.busDown = true;
      return { ts, error: this.lastConnectError! };
    }
    try {
      if (this.line && isFieldProfile(t.profile)) {
        return { ts, ...(await pollFieldMeter(transport, this.line, t.meter, t.profile)) };
      }
      if (isFieldProfile(t.profile))
        throw new Error(`profile ${t.meter.profile} needs a ${t.profile.protocol} bus`);
      const blocks = t.blocks;
      const registers: number[][] = new Array(blocks.length);
      for (let b = 0; b < blocks.length; b++) {
        const block = blocks[b]!;
        registers[b] =
          this.opts.bus.retries === 0
            ? await transport.read(
                t.meter.unitId,
                block.fc,
                block.address,
                block.count,
                this.opts.bus.timeout,
              )
            : await this.readWithRetry(transport, t, block);
      }
      const decoded = decodePoll(t.profile, blocks, registers, t.decodeContext);
      (decoded as PollResult).ts = ts;
      return decoded as PollResult;
    } catch (err) {
      const error = toReadingError(err, this.id, t.meter.id);
      if (error.code === 'MODBUS_DISCONNECTED' || !transport.isOpen) await this.dropTransport();
      return { ts, error };
    }
  }

  private async readWithRetry(
    transport: RegisterTransport,
    t: PollTarget,
    block: ReadBlock,
  ): Promise<number[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await transport.read(
          t.meter.unitId,
          block.fc,
          block.address,
          block.count,
          this.opts.bus.timeout,
        );
      } catch (err) {
        const retriable =
          err instanceof ModbusError &&
          (err.code === 'MODBUS_CRC' || err.code === 'MODBUS_GARBAGE') &&
          !this.isCostly(err.code);
        if (!retriable || attempt >= this.opts.bus.retries || this.stopped) throw err;
      }
    }
  }

  /**
   * Failures that cost the line time: a timeout, and on RTU lines also a bad frame, after which
   * the line is kept silent (`resyncDelay`) so that a late answer cannot be taken for the next.
   */
  private isCostly(code: string): boolean {
    if (code === 'MODBUS_TIMEOUT' || isCostlyFieldCode(code)) return true;
    return this.opts.bus.type !== 'modbus-tcp' && (code === 'MODBUS_CRC' || code === 'MODBUS_GARBAGE');
  }

  /**
   * Failures that open the breaker at once: those that made the line wait a whole timeout, which
   * each further attempt would cost again. A bad frame is answered at once; one alone (noise on
   * the line) must not cost a meter that answers its next poll.
   */
  private opensAtOnce(code: string): boolean {
    return code === 'MODBUS_TIMEOUT' || isCostlyFieldCode(code);
  }

  /** Worst case line time of a probe poll. */
  private get probeCost(): number {
    const silence = this.opts.bus.type === 'modbus-tcp' ? 0 : this.opts.bus.resyncDelay;
    return this.opts.bus.timeout + silence + SLACK_MARGIN_MS;
  }

  private async ensureTransport(): Promise<RegisterTransport | null> {
    if (this.transport?.isOpen) return this.transport;
    if (this.transport) await this.dropTransport();
    const now = monotonicNow();
    if (now < this.reconnectAt) return null;
    try {
      this.transport = await this.opts.openTransport();
      this.reconnectDelay = RECONNECT_MIN_MS;
      this.lastConnectError = null;
      this.opts.logger.info({ bus: this.id }, 'bus connected');
      return this.transport;
    } catch (err) {
      this.reconnectAt = now + this.reconnectDelay;
      this.reconnectDelay = Math.min(RECONNECT_MAX_MS, this.reconnectDelay * 2);
      const message = `cannot connect to bus ${this.id}: ${(err as Error).message}`;
      if (this.lastConnectError?.message !== message)
        this.opts.logger.warn({ bus: this.id, err }, 'bus connect failed');
      // A DL/T 645 or CJ/T 188 line reports in its own protocol's code.
      this.lastConnectError = { code: isFieldError(err) ? err.code : 'MODBUS_DISCONNECTED', message };
      return null;
    }
  }

  private async dropTransport(): Promise<void> {
    const t = this.transport;
    this.transport = null;
    await t?.close().catch(() => undefined);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

function toReadingError(err: unknown, bus: string, meter: string): ReadingError {
  if (err instanceof ModbusError) return { code: err.code, message: err.forMeter(meter).message };
  if (isFieldError(err)) return { code: err.code, message: err.forMeter(meter).message };
  return {
    code: 'GATEWAY_INTERNAL',
    message: `bus ${bus}, meter ${meter}: ${(err as Error)?.message ?? String(err)}`,
  };
}
