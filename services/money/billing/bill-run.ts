import { createHash, randomBytes } from 'node:crypto';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { canonicalJson } from '../../platform/audit/canonical-json.ts';
import { assertCan } from '../../platform/auth/duties.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { ServiceError } from '../../platform/errors.ts';
import type { ValidatedInterval, ValidatedSource, VeeRule } from '../../metering/vee/types.ts';
import { BILLED_QUANTITY, type BillingAccount } from './accounts.ts';
import { billingError } from './errors.ts';
import { divRoundHalfUp, toSafeNumber, toScaled, type Fen } from './money.ts';
import type { BillingPeriod } from './period.ts';
import { tariffsInForce, type PricedTariff } from './prices-billed.ts';
import {
  charge,
  monthOf,
  tariffVersions,
  type ChargeInterval,
  type CustomerType,
  type TariffTable,
  type Utility,
} from './tariffs.ts';
import { localTimeToUtc, wallClock } from '../../metering/consumption/zone.ts';

/**
 * Post-paid bill runs (DOMAIN.md "Readings and billing"): for a period, per account and meter the
 * opening and closing register, the consumption as the sum of VEE-validated daily intervals, how
 * much of it was estimated, the VEE flags, and the charge per tariff component. A run is recorded
 * with the VEE versions it used (pinned in VEE, so later reads cannot change a billed number) and
 * audited in the same transaction as its lines; the audit entry carries a digest of the lines, so
 * a line changed afterwards is found by `verify`.
 *
 * Rules:
 * - Consumption is the sum of the daily intervals, each read as a decimal to 0.001 unit (as
 *   `charge` reads it), so the billed quantity and the priced quantity are the same integer.
 * - A meter is blocked, not billed, when any day of the period has a `fail` flag on an actual
 *   (neither estimated nor edited) value, has no value, or is missing; or when no tariff is in
 *   force. Blocked meters are reported with the days and rules; the rest of the run goes on.
 * - Each meter is one charge: tiers count the meter's own monthly use (one meter per household),
 *   and each component is rounded half up once per meter per run. For a period that starts inside
 *   a month, the meter's validated use from the month start counts towards the tiers (priorUsage).
 * - The charge is computed from the daily intervals, so a tariff that changes on any day applies
 *   from exactly that day; consecutive days without a price cut between them are merged before
 *   pricing (`mergeDays`), which gives the same amounts to the fen.
 * - The register difference (closing − opening) is shown next to the interval sum; it explains,
 *   it does not price (a register read may be interpolated or missing).
 */

export const UNITS: Readonly<Record<Utility, 'kWh' | 'm3'>> = {
  electricity: 'kWh',
  water: 'm3',
  heat: 'kWh',
};

export interface FlagSummary {
  rule: VeeRule;
  severity: 'info' | 'fail';
  /** Days carrying the flag. */
  days: number;
}

export interface ComponentAmount {
  name: string;
  amountFen: Fen;
}

/** One meter's bill in a run. */
export interface MeterBill {
  account: string;
  holder: string;
  customerType: CustomerType;
  payrollCode: string | null;
  meter: string;
  utility: Utility;
  /** m2: a heating season's line, billed by certified area (services/money/heating). */
  unit: 'kWh' | 'm3' | 'm2';
  /** Register at the period start and end (null when VEE has none), and whether it was estimated. */
  opening: number | null;
  openingEstimated: boolean;
  closing: number | null;
  closingEstimated: boolean;
  /** Σ validated daily intervals, in milli-units (Wh, litres). */
  quantityMilli: number;
  /** Of which estimated, and of which edited (milli-units). */
  estimatedMilli: number;
  editedMilli: number;
  /** estimatedMilli / quantityMilli to 4 decimals; null when nothing was used. */
  estimatedShare: number | null;
  /** (closing − opening) − consumption in milli-units; null without both registers, or across a wrap or an exchange. */
  registerDifferenceMilli: number | null;
  flags: FlagSummary[];
  components: ComponentAmount[];
  totalFen: Fen;
  /** The VEE version of each day billed, in day order from the period start (what was pinned). */
  versions: number[];
  /** The tariff versions this line was priced with: what a disclosure prints beside its amounts. */
  prices?: PricedTariff[];
  /**
   * Set on an adjustment line: the earlier run and period it corrects and why. Its quantity and
   * amounts are the differences (credit when negative) between that period re-priced with the
   * corrections and what was billed for it so far.
   */
  adjusts?: { run: string; period: BillingPeriod; reason: string };
}

export interface BlockedDay {
  start: number;
  end: number;
  problem: string;
}

export interface BlockedMeter {
  account: string;
  meter: string;
  utility: Utility;
  reasons: string[];
  days: BlockedDay[];
}

export interface BillRun {
  id: string;
  period: BillingPeriod;
  timezone: string;
  createdBy: string;
  createdAt: number;
  lines: MeterBill[];
  blocked: BlockedMeter[];
  /** The accounts as they were when the run was made. */
  accounts: BillingAccount[];
  totalFen: Fen;
  /** SHA-256 of the canonical JSON of the lines and blocked meters; also in the audit entry. */
  digest: string;
}

export interface BillRunSummary {
  id: string;
  period: BillingPeriod;
  createdBy: string;
  createdAt: number;
  meters: number;
  blocked: number;
  totalFen: Fen;
}

export interface BillRunsOptions {
  db: BackofficeDb;
  audit: AuditLog;
  /**
   * The tariff table, or where to read the one in force (the back office's TariffStore): read once
   * at the start of each run, so one run is priced from one version.
   */
  tariffs: TariffTable | (() => TariffTable);
  source: ValidatedSource;
  /** The campus zone: days, months and the period. */
  timezone: string;
  clock?: Clock;
  /** Meters read from VEE at once. */
  concurrency?: number;
  /**
   * Where the run's work is done when not here: the back office passes a bill run on a thread of
   * its own (bill-run-job.ts), which records the run in the same database and answers its id. The
   * permission and the closed-period check are made here first, so a refusal costs no thread.
   */
  offload?: (actor: Actor, input: BillRunInput, table: TariffTable) => Promise<string>;
}

export interface BillRunInput {
  period: BillingPeriod;
  accounts: readonly BillingAccount[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bill_runs (
  id TEXT PRIMARY KEY,
  label TEXT NOT NULL,
  from_ts INTEGER NOT NULL,
  to_ts INTEGER NOT NULL,
  timezone TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  total_fen INTEGER NOT NULL,
  meters INTEGER NOT NULL,
  blocked TEXT NOT NULL,
  accounts TEXT NOT NULL,
  digest TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bill_runs_label ON bill_runs (label, created_at);
CREATE TABLE IF NOT EXISTS bill_run_lines (
  run_id TEXT NOT NULL REFERENCES bill_runs (id),
  seq INTEGER NOT NULL,
  account TEXT NOT NULL,
  meter TEXT NOT NULL,
  total_fen INTEGER NOT NULL,
  line TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS bill_run_lines_account ON bill_run_lines (account, run_id);
`;

interface RunRow {
  id: string;
  label: string;
  from_ts: number;
  to_ts: number;
  timezone: string;
  created_by: string;
  created_at: number;
  total_fen: number;
  meters: number;
  blocked: string;
  accounts: string;
  digest: string;
}

/** Local midnights from `from` to `to` (both included when they are midnights). */
function dayBounds(from: number, to: number, tz: string): number[] {
  const out = [from];
  while (out[out.length - 1]! < to) {
    const w = wallClock(out[out.length - 1]!, tz);
    out.push(Math.min(localTimeToUtc(tz, w.year, w.month, w.day + 1), to));
  }
  return out;
}

const milli = (v: number): bigint => toScaled(v, 3);

/**
 * How far back a run looks for corrections to bill: a year of periods. Older ones are re-validated
 * by nobody (each look costs a VEE pass over the period); a correction to them needs a decision.
 */
export const CORRECTION_WINDOW_MS = 366 * 86_400_000;

function digestOf(lines: readonly MeterBill[], blocked: readonly BlockedMeter[]): string {
  return createHash('sha256').update(canonicalJson({ lines, blocked })).digest('hex');
}

type MeterOutcome = { bill: MeterBill; intervals: ValidatedInterval[] } | { blocked: BlockedMeter };

/** Runs `fn` over `items` with at most `limit` at a time, results in order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (t: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Consecutive days merged into one interval per stretch without a price cut (an effective date or
 * a month start, both local midnights, so never inside a day). `charge` splits an interval only at
 * those instants and rounds once per component over the whole charge, so the amounts are exactly
 * those of the days one by one (a test checks it) at a twentieth of the work: the days still decide
 * where each tariff applies. Quantities are summed as integer milli-units.
 */
export function mergeDays(days: readonly ChargeInterval[], cuts: readonly number[]): ChargeInterval[] {
  const out: ChargeInterval[] = [];
  let current: { start: number; end: number; milli: bigint } | null = null;
  let c = 0;
  const flush = () => {
    if (current) out.push({ start: current.start, end: current.end, quantity: Number(current.milli) / 1000 });
  };
  for (const d of days) {
    let crossed = false;
    while (c < cuts.length && cuts[c]! <= d.start) {
      crossed = true;
      c++;
    }
    if (current && !crossed && current.end === d.start) {
      current.end = d.end;
      current.milli += milli(d.quantity);
    } else {
      flush();
      current = { start: d.start, end: d.end, milli: milli(d.quantity) };
    }
  }
  flush();
  return out;
}

export class BillRuns {
  private readonly db: BackofficeDb;
  private readonly audit: AuditLog;
  private readonly tariffs: () => TariffTable;
  private readonly source: ValidatedSource;
  private readonly tz: string;
  private readonly clock: Clock;
  private readonly concurrency: number;
  private readonly offload: BillRunsOptions['offload'];
  /** Offloaded runs one after another: two at once would only contend for the same database. */
  private offloaded: Promise<unknown> = Promise.resolve();
  /** Per table: an approved tariff change is a new table object, so its cuts are computed anew. */
  private readonly cutCache = new WeakMap<TariffTable, Map<string, number[]>>();

  constructor(o: BillRunsOptions) {
    this.db = o.db;
    this.audit = o.audit;
    const tariffs = o.tariffs;
    this.tariffs = typeof tariffs === 'function' ? tariffs : () => tariffs;
    this.source = o.source;
    this.tz = o.timezone;
    this.clock = o.clock ?? Date.now;
    this.concurrency = o.concurrency ?? 32;
    this.offload = o.offload;
    this.db.exec(SCHEMA);
  }

  /**
   * Bills every meter of `accounts` for `period`, pins the VEE versions used and records the run
   * with its audit entry. Blocked meters are in the run, not billed.
   */
  async run(actor: Actor, input: BillRunInput): Promise<BillRun> {
    assertCan(actor, 'billing.export', 'make a bill run');
    if (this.offload) {
      const offload = this.offload;
      const turn = this.offloaded.then(() => {
        this.assertOpen(input);
        return offload(actor, input, this.tariffs());
      });
      this.offloaded = turn.catch(() => undefined);
      return this.get(await turn);
    }
    this.assertOpen(input);
    return this.runHere(actor, input);
  }

  /** Refuses a run without accounts, or over a period (or part of one) billed already. */
  private assertOpen(input: BillRunInput): void {
    const { period } = input;
    if (input.accounts.length === 0) billingError('NO_ACCOUNTS', `no accounts to bill for ${period.label}`);
    const closed = this.db
      .prepare('SELECT id, label FROM bill_runs WHERE from_ts < ? AND to_ts > ? ORDER BY created_at LIMIT 1')
      .get(period.to, period.from) as { id: string; label: string } | undefined;
    if (closed) {
      billingError(
        'PERIOD_CLOSED',
        `${period.label} overlaps ${closed.label}, billed in ${closed.id}: a billed period is closed; corrections to it are billed as adjustments in the next period's run`,
      );
    }
  }

  private async runHere(actor: Actor, input: BillRunInput): Promise<BillRun> {
    const { period } = input;
    const table = this.tariffs();
    const days = dayBounds(period.from, period.to, this.tz);
    const jobs = input.accounts.flatMap((account) => account.meters.map((m) => ({ account, ...m })));
    const outcomes = await mapLimit(jobs, this.concurrency, (j) =>
      this.billMeter(table, j.account, j.meter, j.utility, period, days),
    );
    const lines: MeterBill[] = [];
    const blocked: BlockedMeter[] = [];
    const pinned: ValidatedInterval[] = [];
    for (const o of outcomes) {
      if ('blocked' in o) blocked.push(o.blocked);
      else {
        lines.push(o.bill);
        for (const iv of o.intervals) pinned.push(iv);
      }
    }
    const adjustments = await mapLimit(jobs, this.concurrency, (j) =>
      this.adjustMeter(table, j.account, j.meter, j.utility, period),
    );
    for (const a of adjustments.flat()) {
      if ('blocked' in a) blocked.push(a.blocked);
      else {
        if (a.bill) lines.push(a.bill);
        for (const iv of a.intervals) pinned.push(iv);
      }
    }
    const id = `br-${period.label.replace(/[^0-9A-Za-z-]/g, '_')}-${randomBytes(4).toString('hex')}`;
    // Pinned first: if VEE cannot pin, nothing is recorded. A run that then fails to record leaves
    // pins that name no recorded run, which only keeps those versions from being replaced.
    if (pinned.length > 0) await this.source.pin(id, pinned);
    const run: BillRun = {
      id,
      period: { ...period },
      timezone: this.tz,
      createdBy: actor.id,
      createdAt: this.clock(),
      lines,
      blocked,
      accounts: input.accounts.map((a) => structuredClone(a)),
      totalFen: lines.reduce((s, l) => s + l.totalFen, 0),
      digest: digestOf(lines, blocked),
    };
    this.record(run);
    return run;
  }

  private record(run: BillRun): void {
    const insertLine = this.db.prepare(
      'INSERT INTO bill_run_lines (run_id, seq, account, meter, total_fen, line) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      // Checked again under the write lock: a run asked at once elsewhere (the CLI beside the back
      // office, each with its own connection) passed the first check too, and one of them must lose.
      this.assertOpen(run);
      this.db
        .prepare(
          `INSERT INTO bill_runs (id, label, from_ts, to_ts, timezone, created_by, created_at, total_fen, meters,
             blocked, accounts, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          run.id,
          run.period.label,
          run.period.from,
          run.period.to,
          run.timezone,
          run.createdBy,
          run.createdAt,
          run.totalFen,
          run.lines.length,
          JSON.stringify(run.blocked),
          JSON.stringify(run.accounts),
          run.digest,
        );
      run.lines.forEach((l, i) =>
        insertLine.run(run.id, i, l.account, l.meter, l.totalFen, JSON.stringify(l)),
      );
      this.audit.append({
        actor: run.createdBy,
        action: 'billing.run',
        subject: `bill-run:${run.id}`,
        after: {
          period: run.period,
          accounts: run.accounts.length,
          meters: run.lines.length,
          blocked: run.blocked.map((b) => b.meter),
          totalFen: run.totalFen,
          digest: run.digest,
        },
      });
    })();
  }

  private async billMeter(
    table: TariffTable,
    account: BillingAccount,
    meter: string,
    utility: Utility,
    period: BillingPeriod,
    days: readonly number[],
  ): Promise<MeterOutcome> {
    const quantity = BILLED_QUANTITY[utility];
    const blocked = (reasons: string[], blockedDays: BlockedDay[] = []): MeterOutcome => ({
      blocked: { account: account.id, meter, utility, reasons, days: blockedDays },
    });
    const [raw, opening, closing] = await Promise.all([
      this.source.intervals({ meter, quantity, from: period.from, to: period.to, step: '1d' }),
      this.source.registerAt(meter, quantity, period.from),
      this.source.registerAt(meter, quantity, period.to),
    ]);
    const intervals = [...raw].sort((a, b) => a.start - b.start);

    // Every day present, each with a value that may be billed.
    const problems: BlockedDay[] = [];
    const byStart = new Map(intervals.map((iv) => [iv.start, iv]));
    for (let d = 1; d < days.length; d++) {
      const start = days[d - 1]!;
      const end = days[d]!;
      const iv = byStart.get(start);
      if (!iv || iv.end !== end) {
        problems.push({ start, end, problem: 'no validated interval for this day' });
        continue;
      }
      if (iv.value === null) {
        // Before a meter's first reading there is nothing to bill: a gap a clerk resolves (the
        // account opened too early, or the meter not yet connected), never a zero or an estimate.
        const problem = iv.flags.some((f) => f.rule === 'no-meter-yet')
          ? "no meter yet: the day is before the meter's first reading"
          : 'no value: neither measured nor estimable';
        problems.push({ start, end, problem });
        continue;
      }
      const failed = iv.flags.filter((f) => f.severity === 'fail');
      if (failed.length > 0 && iv.source === 'actual') {
        problems.push({
          start,
          end,
          problem: `failed ${failed.map((f) => f.rule).join(', ')} and was neither estimated nor edited`,
        });
      }
    }
    const billed = intervals.filter((iv) => iv.start >= period.from && iv.end <= period.to);
    if (problems.length > 0) {
      return blocked([`${problems.length} of ${days.length - 1} days cannot be billed`], problems);
    }

    let total = 0n;
    let estimated = 0n;
    let edited = 0n;
    const flagDays = new Map<string, FlagSummary>();
    const chargeIntervals: ChargeInterval[] = [];
    for (const iv of billed) {
      const q = milli(iv.value!);
      total += q;
      // The estimated and edited parts of the day, where VEE gives them; else the whole day by its source.
      estimated +=
        iv.estimatedValue !== undefined ? milli(iv.estimatedValue) : iv.source === 'estimated' ? q : 0n;
      edited += iv.editedValue !== undefined ? milli(iv.editedValue) : iv.source === 'edited' ? q : 0n;
      chargeIntervals.push({ start: iv.start, end: iv.end, quantity: iv.value! });
      for (const f of iv.flags) {
        const k = `${f.rule}/${f.severity}`;
        const s = flagDays.get(k) ?? { rule: f.rule, severity: f.severity, days: 0 };
        s.days++;
        flagDays.set(k, s);
      }
    }

    const priorUsage = await this.priorUsage(meter, quantity, period.from);
    let priced;
    try {
      priced = charge(table, {
        utility,
        customerType: account.customerType,
        intervals: mergeDays(chargeIntervals, this.priceCuts(table, utility, account.customerType, period)),
        priorUsage,
      });
    } catch (err) {
      if (err instanceof ServiceError) return blocked([`${err.code}: ${err.message}`]);
      throw err;
    }
    const quantityMilli = toSafeNumber(total, 'quantity');
    // Across a wrap, an exchange or a reset the registers are not comparable: no difference is
    // shown (the line's notes say why) rather than a meaningless −4,294,967,253.
    const comparable = !flagDays.has('rollover/info') && !flagDays.has('meter-replaced/info');
    const registerDifferenceMilli =
      opening && closing && comparable
        ? toSafeNumber(milli(closing.value) - milli(opening.value) - total, 'quantity')
        : null;
    return {
      intervals: billed,
      bill: {
        account: account.id,
        holder: account.holder,
        customerType: account.customerType,
        payrollCode: account.payrollCode ?? null,
        meter,
        utility,
        unit: UNITS[utility],
        opening: opening?.value ?? null,
        openingEstimated: opening?.estimated ?? false,
        closing: closing?.value ?? null,
        closingEstimated: closing?.estimated ?? false,
        quantityMilli,
        estimatedMilli: toSafeNumber(estimated, 'quantity'),
        editedMilli: toSafeNumber(edited, 'quantity'),
        estimatedShare: total === 0n ? null : Number(divRoundHalfUp(estimated * 10_000n, total)) / 10_000,
        registerDifferenceMilli,
        flags: [...flagDays.values()],
        components: priced.components.map((c) => ({ name: c.name, amountFen: c.amountFen })),
        totalFen: priced.totalFen,
        versions: billed.map((iv) => iv.version),
        prices: tariffsInForce(table, utility, account.customerType, period.from, period.to),
      },
    };
  }

  /**
   * Adjustment lines for the meter's earlier billed periods that VEE corrected since: each period is
   * re-priced with the corrections (its own tariffs, tiers and rounding) and the line is the
   * difference from what was billed for it so far (its line plus earlier adjustments). The
   * corrected versions are pinned with this run, so a correction is billed once.
   */
  private async adjustMeter(
    table: TariffTable,
    account: BillingAccount,
    meter: string,
    utility: Utility,
    period: BillingPeriod,
  ): Promise<({ bill: MeterBill | null; intervals: ValidatedInterval[] } | { blocked: BlockedMeter })[]> {
    const source = this.source;
    if (!source.corrections) return [];
    const quantity = BILLED_QUANTITY[utility];
    const rows = this.db
      .prepare(
        `SELECT r.id, r.label, r.from_ts, r.to_ts, l.line FROM bill_run_lines l JOIN bill_runs r ON r.id = l.run_id
          WHERE l.meter = ? AND r.to_ts <= ? AND r.from_ts >= ? ORDER BY r.from_ts, r.created_at, l.seq`,
      )
      .all(meter, period.from, period.from - CORRECTION_WINDOW_MS) as {
      id: string;
      label: string;
      from_ts: number;
      to_ts: number;
      line: string;
    }[];
    const billed = new Map<string, { period: BillingPeriod; base: MeterBill; adjustments: MeterBill[] }>();
    for (const r of rows) {
      const line = JSON.parse(r.line) as MeterBill;
      if (line.adjusts) billed.get(line.adjusts.run)?.adjustments.push(line);
      else
        billed.set(r.id, {
          period: { label: r.label, from: r.from_ts, to: r.to_ts },
          base: line,
          adjustments: [],
        });
    }
    const out: ({ bill: MeterBill | null; intervals: ValidatedInterval[] } | { blocked: BlockedMeter })[] =
      [];
    for (const [run, { period: earlier, base, adjustments }] of billed) {
      const corr = await source.corrections(meter, quantity, earlier.from, earlier.to);
      if (corr.changed.length === 0) continue;
      if (corr.days.some((d) => d.value === null)) {
        out.push({
          blocked: {
            account: account.id,
            meter,
            utility,
            reasons: [`a correction to ${earlier.label} (${run}) leaves a day without a value: not adjusted`],
            days: [],
          },
        });
        continue;
      }
      let priced;
      try {
        priced = charge(table, {
          utility,
          customerType: base.customerType,
          intervals: mergeDays(
            corr.days.map((d) => ({ start: d.start, end: d.end, quantity: d.value! })),
            this.priceCuts(table, utility, base.customerType, earlier),
          ),
          priorUsage: await this.priorUsage(meter, quantity, earlier.from),
        });
      } catch (err) {
        if (err instanceof ServiceError)
          out.push({
            blocked: {
              account: account.id,
              meter,
              utility,
              reasons: [`${err.code}: ${err.message}`],
              days: [],
            },
          });
        else throw err;
        continue;
      }
      const sofar = [base, ...adjustments];
      const fenSoFar = (name: string) =>
        sofar.reduce((a, l) => a + (l.components.find((c) => c.name === name)?.amountFen ?? 0), 0);
      const names = [
        ...new Set([
          ...sofar.flatMap((l) => l.components.map((c) => c.name)),
          ...priced.components.map((c) => c.name),
        ]),
      ];
      const components = names.map((name) => ({
        name,
        amountFen: (priced.components.find((c) => c.name === name)?.amountFen ?? 0) - fenSoFar(name),
      }));
      const quantityMilli = priced.quantityMilli - sofar.reduce((a, l) => a + l.quantityMilli, 0);
      const totalFen = components.reduce((a, c) => a + c.amountFen, 0);
      const bill: MeterBill | null =
        quantityMilli === 0 && totalFen === 0
          ? null
          : {
              account: account.id,
              holder: account.holder,
              customerType: base.customerType,
              payrollCode: account.payrollCode ?? null,
              meter,
              utility,
              unit: UNITS[utility],
              opening: null,
              openingEstimated: false,
              closing: null,
              closingEstimated: false,
              quantityMilli,
              estimatedMilli: 0,
              editedMilli: 0,
              estimatedShare: null,
              registerDifferenceMilli: null,
              flags: [],
              components,
              totalFen,
              versions: [],
              prices: tariffsInForce(table, utility, base.customerType, earlier.from, earlier.to),
              adjusts: { run, period: earlier, reason: corr.reasons.join('; ') },
            };
      out.push({ bill, intervals: corr.changed });
    }
    return out;
  }

  /** Validated use of the period's first month before the period, for tiers; undefined at a month start. */
  private async priorUsage(
    meter: string,
    quantity: (typeof BILLED_QUANTITY)[Utility],
    from: number,
  ): Promise<Record<string, number> | undefined> {
    const w = wallClock(from, this.tz);
    const monthStart = localTimeToUtc(this.tz, w.year, w.month, 1);
    if (monthStart >= from) return undefined;
    const before = await this.source.intervals({ meter, quantity, from: monthStart, to: from, step: '1d' });
    let sum = 0n;
    for (const iv of before)
      if (iv.value !== null && iv.start >= monthStart && iv.end <= from) sum += milli(iv.value);
    return { [monthOf(from, this.tz)]: Number(sum) / 1000 };
  }

  /** Instants in the period where the price may change: effective dates and local month starts. */
  private priceCuts(
    table: TariffTable,
    utility: Utility,
    customerType: CustomerType,
    period: BillingPeriod,
  ): number[] {
    const key = `${utility}/${customerType}/${period.from}/${period.to}`;
    let cache = this.cutCache.get(table);
    if (!cache) this.cutCache.set(table, (cache = new Map()));
    let cuts = cache.get(key);
    if (!cuts) {
      const set = new Set(
        tariffVersions(table, utility, customerType)
          .map((v) => v.from)
          .filter((t) => t > period.from && t < period.to),
      );
      const w = wallClock(period.from, this.tz);
      for (let i = 1; ; i++) {
        const monthStart = localTimeToUtc(this.tz, w.year, w.month + i, 1);
        if (monthStart >= period.to) break;
        set.add(monthStart);
      }
      cuts = [...set].sort((a, b) => a - b);
      cache.set(key, cuts);
    }
    return cuts;
  }

  get(id: string): BillRun {
    const r = this.db.prepare('SELECT * FROM bill_runs WHERE id = ?').get(id) as RunRow | undefined;
    if (!r) billingError('BILL_RUN_NOT_FOUND', `no bill run ${id}`);
    const lines = (
      this.db
        .prepare('SELECT line FROM bill_run_lines WHERE run_id = ? ORDER BY seq')
        .pluck()
        .all(id) as string[]
    ).map((l) => JSON.parse(l) as MeterBill);
    return {
      id: r.id,
      period: { label: r.label, from: r.from_ts, to: r.to_ts },
      timezone: r.timezone,
      createdBy: r.created_by,
      createdAt: r.created_at,
      lines,
      blocked: JSON.parse(r.blocked) as BlockedMeter[],
      accounts: JSON.parse(r.accounts) as BillingAccount[],
      totalFen: r.total_fen,
      digest: r.digest,
    };
  }

  /** The newest run of a period label (what is published), or null. */
  latest(label: string): BillRun | null {
    const id = this.db
      .prepare('SELECT id FROM bill_runs WHERE label = ? ORDER BY created_at DESC, rowid DESC LIMIT 1')
      .pluck()
      .get(label) as string | undefined;
    return id === undefined ? null : this.get(id);
  }

  /** Runs, newest first; only those of one period label when given. */
  list(label?: string): BillRunSummary[] {
    const rows = (
      label === undefined
        ? this.db.prepare('SELECT * FROM bill_runs ORDER BY created_at DESC, id').all()
        : this.db.prepare('SELECT * FROM bill_runs WHERE label = ? ORDER BY created_at DESC, id').all(label)
    ) as RunRow[];
    return rows.map((r) => ({
      id: r.id,
      period: { label: r.label, from: r.from_ts, to: r.to_ts },
      createdBy: r.created_by,
      createdAt: r.created_at,
      meters: r.meters,
      blocked: (JSON.parse(r.blocked) as unknown[]).length,
      totalFen: r.total_fen,
    }));
  }

  /**
   * True when the stored lines still match the digest written in the run's audit entry (and in
   * the run row): a line edited in the database afterwards makes it false.
   */
  verify(id: string): { ok: boolean; problem?: string } {
    const run = this.get(id);
    const entry = this.audit.query({ subject: `bill-run:${id}`, action: 'billing.run', limit: 1 })[0];
    if (!entry) return { ok: false, problem: `no audit entry for bill run ${id}` };
    const audited = (entry.after as { digest?: string } | null)?.digest;
    const actual = digestOf(run.lines, run.blocked);
    if (audited !== actual) return { ok: false, problem: `the lines of ${id} differ from what was audited` };
    if (run.digest !== actual) return { ok: false, problem: `the digest stored with ${id} was changed` };
    return { ok: true };
  }
}
