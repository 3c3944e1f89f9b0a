import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { localTimeToUtc } from '../../services/metering/consumption/zone.ts';
import type { CumulativeQuantity } from '../../services/metering/storage.ts';
import type {
  IntervalSource,
  ValidatedInterval,
  ValidatedSource,
  VeeFlag,
} from '../../services/metering/vee/types.ts';

export const TZ = 'Asia/Shanghai';
/** A local (Shanghai) time as UTC ms. */
export const local = (y: number, m: number, d: number, h = 0, min = 0): number =>
  localTimeToUtc(TZ, y, m, d, h, min);

const user = (id: string, ...roles: Actor['roles']): Actor => ({ id, kind: 'user', roles });
export const billing = user('fin.zhang', 'billing');
export const supervisor = user('sup.li', 'supervisor');
export const clerk = user('clerk.wang', 'clerk');

/** A day as the memory source takes it: a value, or a value with where it came from and its flags. */
export type DayInput = number | null | { value: number | null; source?: IntervalSource; flags?: VeeFlag[] };

const key = (meter: string, quantity: string) => `${meter}/${quantity}`;

/**
 * An in-memory ValidatedSource (services/metering/vee/types.ts) for tests and benches: daily intervals as
 * given, registers at each local midnight from a start value plus the days' values (linear in
 * between), and pins recorded.
 */
export class MemoryValidatedSource implements ValidatedSource {
  private readonly days = new Map<string, ValidatedInterval[]>();
  private readonly registers = new Map<string, { ts: number; value: number; estimated: boolean }[]>();
  readonly pins: { billRun: string; intervals: readonly ValidatedInterval[] }[] = [];
  /** Calls of `intervals`, for tests that count reads. */
  reads = 0;

  constructor(private readonly timezone = TZ) {}

  /**
   * Daily intervals from local midnight of `first` (y, m, d), one per value, and the register
   * that starts at `startRegister` and grows by each day's value.
   */
  setDays(
    meter: string,
    quantity: CumulativeQuantity,
    first: [number, number, number],
    values: readonly DayInput[],
    startRegister = 0,
  ): this {
    const list = this.days.get(key(meter, quantity)) ?? [];
    const regs = this.registers.get(key(meter, quantity)) ?? [];
    let register = startRegister;
    const bounds = this.bounds(first, values.length);
    let ts = bounds[0]!;
    if (!regs.some((r) => r.ts === ts)) regs.push({ ts, value: register, estimated: false });
    values.forEach((d, i) => {
      const end = bounds[i + 1]!;
      const day = typeof d === 'object' && d !== null ? d : { value: d };
      list.push({
        meter,
        quantity,
        start: ts,
        end,
        value: day.value,
        source: day.source ?? 'actual',
        flags: day.flags ?? [],
        version: day.source && day.source !== 'actual' ? 2 : 1,
      });
      register = Math.round((register + (day.value ?? 0)) * 1000) / 1000;
      regs.push({ ts: end, value: register, estimated: day.source === 'estimated' });
      ts = end;
    });
    list.sort((a, b) => a.start - b.start);
    regs.sort((a, b) => a.ts - b.ts);
    this.days.set(key(meter, quantity), list);
    this.registers.set(key(meter, quantity), regs);
    return this;
  }

  private readonly boundsCache = new Map<string, number[]>();
  /** Local midnights from `first` on, n + 1 of them (cached: the time-zone arithmetic is slow). */
  private bounds(first: [number, number, number], n: number): number[] {
    const k = `${first.join('-')}/${n}`;
    let b = this.boundsCache.get(k);
    if (!b) {
      b = Array.from({ length: n + 1 }, (_, i) =>
        localTimeToUtc(this.timezone, first[0], first[1], first[2] + i),
      );
      this.boundsCache.set(k, b);
    }
    return b;
  }

  /** Sets register values directly (for manual-reading comparisons). */
  setRegister(meter: string, quantity: CumulativeQuantity, points: readonly [number, number][]): this {
    const regs = this.registers.get(key(meter, quantity)) ?? [];
    for (const [ts, value] of points) regs.push({ ts, value, estimated: false });
    regs.sort((a, b) => a.ts - b.ts);
    this.registers.set(key(meter, quantity), regs);
    return this;
  }

  async intervals(q: {
    meter: string;
    quantity: CumulativeQuantity;
    from: number;
    to: number;
    step: '15m' | '1d';
  }): Promise<ValidatedInterval[]> {
    this.reads++;
    if (q.step !== '1d') throw new Error('the memory source holds days only');
    return (this.days.get(key(q.meter, q.quantity)) ?? []).filter((iv) => iv.start < q.to && iv.end > q.from);
  }

  async registerAt(
    meter: string,
    quantity: CumulativeQuantity,
    ts: number,
  ): Promise<{ value: number; estimated: boolean } | null> {
    const regs = this.registers.get(key(meter, quantity)) ?? [];
    const i = regs.findIndex((r) => r.ts >= ts);
    if (i < 0) return null;
    const after = regs[i]!;
    if (after.ts === ts) return { value: after.value, estimated: after.estimated };
    const before = regs[i - 1];
    if (!before) return null;
    const f = (ts - before.ts) / (after.ts - before.ts);
    return { value: before.value + f * (after.value - before.value), estimated: true };
  }

  async pin(billRun: string, intervals: readonly ValidatedInterval[]): Promise<void> {
    this.pins.push({ billRun, intervals });
    for (const iv of intervals) iv.billedIn = billRun;
  }
}

/** A fresh in-memory back office with a clock the test moves. */
export function backoffice(start = local(2026, 12, 2, 9)) {
  const db = openBackofficeDb(':memory:');
  const time = { now: start };
  const clock = () => time.now;
  const audit = new AuditLog(db, clock);
  return { db, audit, clock, time };
}

/** A `fail` flag of a rule, as VEE writes it. */
export const failFlag = (rule: VeeFlag['rule'], reason = `${rule} failed`): VeeFlag => ({
  rule,
  reason,
  severity: 'fail',
});
export const infoFlag = (rule: VeeFlag['rule'], reason: string = rule): VeeFlag => ({
  rule,
  reason,
  severity: 'info',
});
