import { z } from 'zod';
import type { CollectionSettings, PenaltyRule } from '../../../config/schemas/collection.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { assertCan, assertNotSelfApproval } from '../../platform/auth/duties.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { inputProblems } from '../../platform/input-problems.ts';
import type { BillRun } from '../billing/bill-run.ts';
import { isFen, type Fen } from '../billing/money.ts';
import { bucketOf, daysOverdue, emptyBuckets, type AgeBucket } from './ageing.ts';
import { isoDate, midnightAfter } from './calendar.ts';
import { collectionError } from './errors.ts';
import { penaltyAsOf } from './penalty.ts';
import { COLLECTION_SCHEMA } from './schema.ts';
import {
  COLLECTION_METHODS,
  REMINDER_CHANNELS,
  type FeeTable,
  type FeeTableAccount,
  type NoticeState,
  type Objection,
  type Payment,
  type Reversal,
  type SupervisorRequest,
  type Waiver,
} from './types.ts';

/**
 * Post-paid collection (DOMAIN.md "Readings and billing" 2–4): a bill run's fee table is published
 * for objections; once the period is over and every objection decided, billing confirms it, which
 * issues a payment notice per door (account) and puts staff with a payroll code on the payroll
 * deduction list. The clerk records payments against notices; unpaid notices age, are chased with
 * reminders and then penalised under the campus file's rule; a penalty is waived only by a second
 * person. Every change is a new row and an audit entry in one transaction.
 */

export interface CollectionOptions {
  db: BackofficeDb;
  audit: AuditLog;
  clock?: Clock;
  timezone: string;
  settings: CollectionSettings;
  /** The bill runs a fee table is published from. */
  runs: { get(id: string): BillRun };
}

/** The largest single amount: 1 000 000 yuan; larger is a typing mistake. */
export const MAX_PAYMENT_FEN = 100_000_000;

const Text = (max: number) => z.string().trim().min(1).max(max);
const Id = z.string().trim().min(1).max(64);

export const PublishSchema = z.object({ run: z.string().regex(/^br-[A-Za-z0-9_-]{1,64}$/) }).strict();
export const ObjectionSchema = z.object({ feeTable: Id, account: Id, text: Text(2000) }).strict();
export const DecisionSchema = z
  .object({
    outcome: z.enum(['upheld', 'dismissed']),
    amountFen: z.unknown().optional(),
    reason: Text(2000),
  })
  .strict();
export const PaymentSchema = z
  .object({
    notice: Text(64).describe('The notice number printed on it'),
    account: Id.describe('The account on the notice'),
    period: Text(32).describe('The period on the notice, as the customer presents it'),
    method: z.enum(COLLECTION_METHODS),
    amountFen: z.unknown().describe('Whole fen, positive'),
    reference: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .optional()
      .describe('Receipt number (cash) or bank reference (card, transfer); each recorded once'),
  })
  .strict();
export const ReminderSchema = z
  .object({
    notice: Text(64),
    channel: z.enum(REMINDER_CHANNELS),
    note: z.string().trim().max(500).optional(),
  })
  .strict();
export const ReversalSchema = z.object({ reason: Text(2000) }).strict();
export const WaiverSchema = z
  .object({ notice: Text(64), amountFen: z.unknown(), reason: Text(2000) })
  .strict();

function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  return collectionError('INVALID_REQUEST', inputProblems(r.error));
}

/** A positive whole number of fen, or INVALID_AMOUNT naming the value. */
function amount(v: unknown, what: string, allowZero = false): Fen {
  if (!isFen(v) || v < (allowZero ? 0 : 1) || v > MAX_PAYMENT_FEN) {
    collectionError(
      'INVALID_AMOUNT',
      `${what} must be a whole number of fen from ${allowZero ? 0 : 1} to ${MAX_PAYMENT_FEN}, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

interface TableRow {
  id: string;
  run_id: string;
  period_label: string;
  from_ts: number;
  to_ts: number;
  published_by: string;
  published_at: number;
  objections_until: number;
  due_days: number;
  penalty_rule: string;
}
interface NoticeRow {
  id: number;
  number: string;
  fee_table: string;
  account: string;
  holder: string;
  period_label: string;
  fee_fen: number;
  issued_by: string;
  issued_at: number;
  due_at: number;
  penalty_rule: string;
}
interface PaymentRow {
  id: number;
  notice: number;
  account: string;
  at: number;
  method: Payment['method'];
  amount_fen: number;
  principal_fen: number;
  penalty_fen: number;
  credit_fen: number;
  reference: string | null;
  recorded_by: string;
}

const toPayment = (r: PaymentRow): Payment => ({
  id: r.id,
  notice: r.notice,
  account: r.account,
  at: r.at,
  method: r.method,
  amountFen: r.amount_fen,
  principalFen: r.principal_fen,
  penaltyFen: r.penalty_fen,
  creditFen: r.credit_fen,
  reference: r.reference,
  recordedBy: r.recorded_by,
});

/** A reversal's or waiver's row joined with its decision row (LEFT JOIN: nulls while pending). */
interface RequestRow {
  reason: string;
  requested_by: string;
  requested_at: number;
  outcome: 'approved' | 'rejected' | null;
  decided_by: string | null;
  decided_at: number | null;
}

const toRequest = (r: RequestRow): SupervisorRequest => ({
  reason: r.reason,
  requestedBy: r.requested_by,
  requestedAt: r.requested_at,
  status: r.outcome ?? 'pending',
  decidedBy: r.decided_by,
  decidedAt: r.decided_at,
});

export class Collection {
  private readonly db: BackofficeDb;
  private readonly audit: AuditLog;
  private readonly clock: Clock;
  readonly timezone: string;
  private readonly settings: CollectionSettings;
  private readonly runs: CollectionOptions['runs'];

  constructor(o: CollectionOptions) {
    this.db = o.db;
    this.audit = o.audit;
    this.clock = o.clock ?? Date.now;
    this.timezone = o.timezone;
    this.settings = o.settings;
    this.runs = o.runs;
    // The back office's tables share one namespace: a database where another service's table of
    // the same name was made first (the payments service's notices were once payment_notices)
    // would skip CREATE IF NOT EXISTS and fail on the first insert; say so at start instead.
    const columns = (
      this.db.prepare("SELECT name FROM pragma_table_info('payment_notices')").pluck().all() as string[]
    ).filter(Boolean);
    if (columns.length > 0 && !columns.includes('fee_table'))
      throw new Error(
        `the back-office database has a table payment_notices that is not post-paid collection's (columns: ${columns.join(', ')}); rename or remove it before starting`,
      );
    this.db.exec(COLLECTION_SCHEMA);
  }

  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // ---------------------------------------------------------------- fee tables and objections

  /**
   * Publishes a bill run's fee table: per account the sum of its lines (adjustment lines
   * included), open for objections until the local midnight `objectionDays` after today.
   */
  publish(by: Actor, input: unknown): FeeTable {
    assertCan(by, 'collection.publish', 'publish a fee table');
    const { run: runId } = parse(PublishSchema, input);
    const run = this.runs.get(runId);
    if (run.lines.length === 0) collectionError('EMPTY_RUN', `bill run ${runId} has no billed line`);
    const id = `ft-${runId}`;
    const now = this.clock();
    return this.tx(() => {
      if (this.db.prepare('SELECT 1 FROM fee_tables WHERE run_id = ?').get(runId))
        collectionError('FEE_TABLE_EXISTS', `the fee table of ${runId} is already published as ${id}`);
      const accounts = new Map<
        string,
        { holder: string; payrollCode: string | null; fen: number; blocked: string[] }
      >();
      for (const l of run.lines) {
        const a = accounts.get(l.account) ?? {
          holder: l.holder,
          payrollCode: l.payrollCode,
          fen: 0,
          blocked: [],
        };
        a.fen += l.totalFen;
        accounts.set(l.account, a);
      }
      // A meter VEE blocked is not in the fee: the table and the notice say so, so that nobody takes
      // a part for the whole; it is billed once its data are resolved.
      for (const b of run.blocked) {
        const holder = run.accounts.find((x) => x.id === b.account);
        const a = accounts.get(b.account) ?? {
          holder: holder?.holder ?? b.account,
          payrollCode: holder?.payrollCode ?? null,
          fen: 0,
          blocked: [],
        };
        a.blocked.push(b.meter);
        accounts.set(b.account, a);
      }
      const until = midnightAfter(now, this.settings.objectionDays + 1, this.timezone);
      this.db
        .prepare(
          `INSERT INTO fee_tables (id, run_id, period_label, from_ts, to_ts, published_by, published_at,
             objections_until, due_days, penalty_rule) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          runId,
          run.period.label,
          run.period.from,
          run.period.to,
          by.id,
          now,
          until,
          this.settings.dueDays,
          JSON.stringify(this.settings.penalty),
        );
      const ins = this.db.prepare(
        `INSERT INTO fee_table_accounts (fee_table, account, holder, payroll_code, billed_fen, blocked_meters)
         VALUES (?, ?, ?, ?, ?, ?)`,
      );
      for (const [account, a] of [...accounts].sort(([x], [y]) => x.localeCompare(y)))
        ins.run(id, account, a.holder, a.payrollCode, a.fen, JSON.stringify(a.blocked.sort()));
      const table = this.feeTable(id);
      this.audit.append({
        actor: by.id,
        action: 'collection.publish',
        subject: `fee-table:${id}`,
        after: {
          run: runId,
          runDigest: run.digest,
          period: run.period.label,
          objectionsUntil: until,
          accounts: table.accounts.length,
          totalFen: table.totalFen,
        },
      });
      return table;
    });
  }

  feeTable(id: string): FeeTable {
    const t = this.db.prepare('SELECT * FROM fee_tables WHERE id = ?').get(id) as TableRow | undefined;
    if (!t) return collectionError('FEE_TABLE_NOT_FOUND', `no fee table ${id}`);
    const conf = this.db.prepare('SELECT * FROM fee_table_confirmations WHERE fee_table = ?').get(id) as
      { confirmed_by: string; confirmed_at: number } | undefined;
    const objections = this.objections(id);
    const accounts = (
      this.db.prepare('SELECT * FROM fee_table_accounts WHERE fee_table = ? ORDER BY account').all(id) as {
        account: string;
        holder: string;
        payroll_code: string | null;
        billed_fen: number;
        blocked_meters: string;
      }[]
    ).map((a): FeeTableAccount => ({
      account: a.account,
      holder: a.holder,
      payrollCode: a.payroll_code,
      billedFen: a.billed_fen,
      blockedMeters: JSON.parse(a.blocked_meters) as string[],
      feeFen: feeAfterObjections(
        a.billed_fen,
        objections.filter((o) => o.account === a.account),
      ),
    }));
    const now = this.clock();
    return {
      id: t.id,
      runId: t.run_id,
      period: { label: t.period_label, from: t.from_ts, to: t.to_ts },
      publishedBy: t.published_by,
      publishedAt: t.published_at,
      objectionsUntil: t.objections_until,
      state: conf ? 'confirmed' : now < t.objections_until ? 'open-for-objections' : 'awaiting-confirmation',
      confirmedBy: conf?.confirmed_by ?? null,
      confirmedAt: conf?.confirmed_at ?? null,
      penaltyRule: JSON.parse(t.penalty_rule) as PenaltyRule,
      accounts,
      objections,
      totalFen: accounts.reduce((s, a) => s + a.feeFen, 0),
    };
  }

  feeTables(): { id: string; period: string; publishedAt: number; confirmed: boolean }[] {
    return (
      this.db
        .prepare(
          `SELECT t.id, t.period_label, t.published_at, c.fee_table IS NOT NULL AS confirmed
             FROM fee_tables t LEFT JOIN fee_table_confirmations c ON c.fee_table = t.id ORDER BY t.published_at DESC`,
        )
        .all() as { id: string; period_label: string; published_at: number; confirmed: number }[]
    ).map((r) => ({
      id: r.id,
      period: r.period_label,
      publishedAt: r.published_at,
      confirmed: r.confirmed === 1,
    }));
  }

  private objections(feeTable: string): Objection[] {
    const rows = this.db
      .prepare(
        `SELECT o.*, d.outcome, d.amount_fen, d.reason, d.decided_by, d.decided_at FROM fee_objections o
           LEFT JOIN fee_objection_decisions d ON d.objection = o.id WHERE o.fee_table = ? ORDER BY o.id`,
      )
      .all(feeTable) as {
      id: number;
      account: string;
      text: string;
      recorded_by: string;
      recorded_at: number;
      outcome: 'upheld' | 'dismissed' | null;
      amount_fen: number | null;
      reason: string | null;
      decided_by: string | null;
      decided_at: number | null;
    }[];
    return rows.map((r) => ({
      id: r.id,
      account: r.account,
      text: r.text,
      recordedBy: r.recorded_by,
      recordedAt: r.recorded_at,
      decision: r.outcome
        ? {
            outcome: r.outcome,
            amountFen: r.amount_fen,
            reason: r.reason!,
            decidedBy: r.decided_by!,
            decidedAt: r.decided_at!,
          }
        : null,
    }));
  }

  /** A customer's objection to their line of the fee table, recorded while the period is open. */
  object(by: Actor, input: unknown): Objection {
    assertCan(by, 'collection.objection', 'record an objection');
    const o = parse(ObjectionSchema, input);
    return this.tx(() => {
      const t = this.feeTable(o.feeTable);
      if (!t.accounts.some((a) => a.account === o.account))
        collectionError('ACCOUNT_NOT_IN_FEE_TABLE', `${o.account} is not in fee table ${t.id}`);
      if (this.clock() >= t.objectionsUntil)
        collectionError(
          'OBJECTION_PERIOD_OVER',
          `the objection period of ${t.id} ended at ${new Date(t.objectionsUntil).toISOString()}`,
        );
      const info = this.db
        .prepare(
          'INSERT INTO fee_objections (fee_table, account, text, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(t.id, o.account, o.text, by.id, this.clock());
      const id = Number(info.lastInsertRowid);
      this.audit.append({
        actor: by.id,
        action: 'collection.objection',
        subject: `fee-table:${t.id}`,
        after: { objection: id, account: o.account, text: o.text },
      });
      return this.objections(t.id).find((x) => x.id === id)!;
    });
  }

  /**
   * A supervisor other than whoever recorded the objection decides it: upheld with the amount the
   * account is to pay instead (which may favour the customer, hence the second person), or dismissed.
   */
  decideObjection(by: Actor, objectionId: number, input: unknown): Objection {
    assertCan(by, 'collection.resolve-objection', 'decide an objection');
    const d = parse(DecisionSchema, input);
    const amountFen =
      d.outcome === 'upheld' ? amount(d.amountFen, 'the amount after the objection', true) : null;
    if (d.outcome === 'dismissed' && d.amountFen !== undefined)
      collectionError('INVALID_REQUEST', 'a dismissed objection changes no amount: leave amountFen out');
    return this.tx(() => {
      const o = this.db.prepare('SELECT * FROM fee_objections WHERE id = ?').get(objectionId) as
        { fee_table: string; account: string; recorded_by: string } | undefined;
      if (!o) return collectionError('OBJECTION_NOT_FOUND', `no objection ${objectionId}`);
      if (this.db.prepare('SELECT 1 FROM fee_objection_decisions WHERE objection = ?').get(objectionId))
        collectionError('OBJECTION_DECIDED', `objection ${objectionId} is already decided`);
      if (this.db.prepare('SELECT 1 FROM fee_table_confirmations WHERE fee_table = ?').get(o.fee_table))
        collectionError('FEE_TABLE_CONFIRMED', `fee table ${o.fee_table} is confirmed`);
      assertNotSelfApproval(o.recorded_by, by, 'decide this objection', { db: this.db, now: this.clock() });
      const before = this.feeTable(o.fee_table).accounts.find((a) => a.account === o.account)!.feeFen;
      this.db
        .prepare(
          'INSERT INTO fee_objection_decisions (objection, outcome, amount_fen, reason, decided_by, decided_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(objectionId, d.outcome, amountFen, d.reason, by.id, this.clock());
      const after = this.feeTable(o.fee_table).accounts.find((a) => a.account === o.account)!.feeFen;
      this.audit.append({
        actor: by.id,
        action: 'collection.objection-decide',
        subject: `fee-table:${o.fee_table}`,
        before: { account: o.account, feeFen: before },
        after: { objection: objectionId, outcome: d.outcome, account: o.account, feeFen: after },
        reason: d.reason,
      });
      return this.objections(o.fee_table).find((x) => x.id === objectionId)!;
    });
  }

  /**
   * Confirms a fee table after its objection period, every objection decided: a notice per door
   * for accounts without a payroll code, a payroll deduction for the others; the account's credit
   * (earlier overpayments, credit notes) is set against either. A negative fee (an adjustment
   * credit) becomes credit.
   */
  confirm(by: Actor, feeTableId: string): FeeTable {
    assertCan(by, 'collection.publish', 'confirm a fee table');
    return this.tx(() => {
      const t = this.feeTable(feeTableId);
      if (t.state === 'confirmed') collectionError('FEE_TABLE_CONFIRMED', `${t.id} is already confirmed`);
      const now = this.clock();
      if (now < t.objectionsUntil)
        collectionError(
          'OBJECTION_PERIOD_OPEN',
          `${t.id} is open for objections until ${new Date(t.objectionsUntil).toISOString()}`,
        );
      const open = t.objections.filter((o) => !o.decision);
      if (open.length > 0)
        collectionError(
          'OBJECTIONS_UNRESOLVED',
          `${t.id} has objections not decided: ${open.map((o) => `#${o.id} (${o.account})`).join(', ')}`,
        );
      this.db
        .prepare(
          'INSERT INTO fee_table_confirmations (fee_table, confirmed_by, confirmed_at) VALUES (?, ?, ?)',
        )
        .run(t.id, by.id, now);
      const dueAt = midnightAfter(now, this.settings.dueDays + 1, this.timezone);
      const rule = JSON.stringify(t.penaltyRule);
      let seq = 0;
      let notices = 0;
      let deductions = 0;
      for (const a of t.accounts) {
        if (a.feeFen < 0) {
          this.credit(a.account, -a.feeFen, { feeTable: t.id, why: 'credit in the fee table', by: by.id });
          continue;
        }
        const credit = Math.min(this.creditBalance(a.account), a.feeFen);
        if (a.payrollCode) {
          if (credit > 0)
            this.credit(a.account, -credit, {
              feeTable: t.id,
              why: 'set against payroll deduction',
              by: by.id,
            });
          this.db
            .prepare(
              `INSERT INTO payroll_deductions (fee_table, account, holder, payroll_code, fee_fen, credit_fen, deduct_fen)
               VALUES (?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(t.id, a.account, a.holder, a.payrollCode, a.feeFen, credit, a.feeFen - credit);
          deductions++;
          continue;
        }
        if (a.feeFen === 0) continue;
        const number = `${t.period.label}-${String(++seq).padStart(4, '0')}`;
        const info = this.db
          .prepare(
            `INSERT INTO payment_notices (number, fee_table, account, holder, period_label, fee_fen, issued_by,
               issued_at, due_at, penalty_rule) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(number, t.id, a.account, a.holder, t.period.label, a.feeFen, by.id, now, dueAt, rule);
        notices++;
        if (credit > 0) {
          const notice = Number(info.lastInsertRowid);
          const p = this.db
            .prepare(
              `INSERT INTO collection_payments (notice, account, at, method, amount_fen, principal_fen, penalty_fen,
                 credit_fen, reference, recorded_by) VALUES (?, ?, ?, 'credit', ?, ?, 0, 0, NULL, ?)`,
            )
            .run(notice, a.account, now, credit, credit, by.id);
          this.credit(a.account, -credit, {
            feeTable: t.id,
            notice,
            payment: Number(p.lastInsertRowid),
            why: `set against notice ${number}`,
            by: by.id,
          });
        }
      }
      this.audit.append({
        actor: by.id,
        action: 'collection.confirm',
        subject: `fee-table:${t.id}`,
        after: { notices, deductions, dueAt, totalFen: t.totalFen },
      });
      return this.feeTable(t.id);
    });
  }

  private credit(
    account: string,
    fen: Fen,
    o: { feeTable?: string; notice?: number; payment?: number; why: string; by: string },
  ): void {
    this.db
      .prepare(
        `INSERT INTO collection_credits (account, at, amount_fen, payment, notice, fee_table, why, recorded_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(account, this.clock(), fen, o.payment ?? null, o.notice ?? null, o.feeTable ?? null, o.why, o.by);
  }

  /** The account's credit: overpayments and credit notes not yet set against a fee. */
  creditBalance(account: string): Fen {
    return (
      this.db
        .prepare('SELECT COALESCE(SUM(amount_fen), 0) AS fen FROM collection_credits WHERE account = ?')
        .get(account) as { fen: number }
    ).fen;
  }

  // ---------------------------------------------------------------- notices, payroll

  private noticeRow(number: string): NoticeRow {
    const n = this.db.prepare('SELECT * FROM payment_notices WHERE number = ?').get(number) as
      NoticeRow | undefined;
    return n ?? collectionError('NOTICE_NOT_FOUND', `no payment notice ${number}`);
  }

  notices(feeTableId: string, asOf = this.clock()): NoticeState[] {
    const t = this.feeTable(feeTableId);
    if (t.state !== 'confirmed') collectionError('NOT_CONFIRMED', `${t.id} is not confirmed`);
    return (
      this.db
        .prepare('SELECT * FROM payment_notices WHERE fee_table = ? ORDER BY id')
        .all(t.id) as NoticeRow[]
    ).map((n) => this.state(n, asOf));
  }

  notice(number: string, asOf = this.clock()): NoticeState {
    return this.state(this.noticeRow(number), asOf);
  }

  payrollList(feeTableId: string) {
    const t = this.feeTable(feeTableId);
    if (t.state !== 'confirmed') collectionError('NOT_CONFIRMED', `${t.id} is not confirmed`);
    return (
      this.db
        .prepare('SELECT * FROM payroll_deductions WHERE fee_table = ? ORDER BY payroll_code, account')
        .all(t.id) as {
        account: string;
        holder: string;
        payroll_code: string;
        fee_fen: number;
        credit_fen: number;
        deduct_fen: number;
      }[]
    ).map((r) => ({
      payrollCode: r.payroll_code,
      account: r.account,
      holder: r.holder,
      period: t.period.label,
      feeFen: r.fee_fen,
      creditFen: r.credit_fen,
      deductFen: r.deduct_fen,
    }));
  }

  /** The bill run lines behind a notice (meters, quantities, amounts) for printing. */
  runOf(feeTableId: string): BillRun {
    return this.runs.get(this.feeTable(feeTableId).runId);
  }

  /** A notice's debt as of `asOf`: the fee paid so far, the penalty accrued, paid and waived. */
  private state(n: NoticeRow, asOf: number): NoticeState {
    const payments = this.effectivePayments(n.id, asOf);
    const reminders = (
      this.db
        .prepare('SELECT * FROM collection_reminders WHERE notice = ? AND at <= ? ORDER BY id')
        .all(n.id, asOf) as {
        at: number;
        channel: string;
        note: string | null;
        recorded_by: string;
      }[]
    ).map((r) => ({ at: r.at, channel: r.channel, note: r.note, recordedBy: r.recorded_by }));
    const waived = (
      this.db
        .prepare(
          `SELECT COALESCE(SUM(w.amount_fen), 0) AS fen FROM penalty_waivers w
             JOIN penalty_waiver_decisions d ON d.waiver = w.id AND d.outcome = 'approved'
            WHERE w.notice = ? AND d.decided_at <= ?`,
        )
        .get(n.id, asOf) as { fen: number }
    ).fen;
    const paidPrincipal = payments.reduce((s, p) => s + p.principalFen, 0);
    const penaltyPaid = payments.reduce((s, p) => s + p.penaltyFen, 0);
    const penalty = penaltyAsOf({
      feeFen: n.fee_fen,
      dueAt: n.due_at,
      rule: JSON.parse(n.penalty_rule) as PenaltyRule,
      firstReminderAt: reminders[0]?.at ?? null,
      principalPayments: payments.map((p) => ({ at: p.at, fen: p.principalFen })),
      asOf,
      timezone: this.timezone,
    });
    const principalDue = n.fee_fen - paidPrincipal;
    const penaltyDue = Math.max(0, penalty.fen - penaltyPaid - waived);
    const outstanding = principalDue + penaltyDue;
    const overdue = outstanding > 0 ? daysOverdue(n.due_at, asOf, this.timezone) : 0;
    return {
      id: n.id,
      number: n.number,
      feeTable: n.fee_table,
      account: n.account,
      holder: n.holder,
      period: n.period_label,
      feeFen: n.fee_fen,
      issuedBy: n.issued_by,
      issuedAt: n.issued_at,
      dueAt: n.due_at,
      dueDate: isoDate(n.due_at - 1, this.timezone),
      paidPrincipalFen: paidPrincipal,
      principalDueFen: principalDue,
      penaltyAccruedFen: penalty.fen,
      penaltyDays: penalty.days,
      penaltyPaidFen: penaltyPaid,
      penaltyWaivedFen: waived,
      penaltyDueFen: penaltyDue,
      outstandingFen: outstanding,
      daysOverdue: overdue,
      bucket: overdue > 0 ? bucketOf(overdue) : null,
      reminders,
      payments,
      asOf,
    };
  }

  // ---------------------------------------------------------------- payments

  /**
   * A payment the clerk takes against a notice. The account and period the customer presents must
   * be the notice's. The money goes to the fee first, then to the penalty owed now; anything
   * beyond is the account's credit, set against its next notice or deduction, never lost.
   */
  pay(by: Actor, input: unknown): { payment: Payment; notice: NoticeState; creditBalanceFen: Fen } {
    assertCan(by, 'payments.record', 'record a payment');
    const p = parse(PaymentSchema, input);
    const fen = amount(p.amountFen, 'the amount paid');
    // Every payment carries its receipt or bank reference, so that the same payment sent twice (a
    // double click, a replayed request) is refused as DUPLICATE_REFERENCE instead of booked twice.
    if (!p.reference)
      collectionError(
        'REFERENCE_REQUIRED',
        p.method === 'cash'
          ? 'a cash payment needs its receipt number'
          : `a ${p.method} payment needs its bank reference`,
      );
    return this.tx(() => {
      const n = this.noticeRow(p.notice);
      if (n.account !== p.account)
        collectionError(
          'NOTICE_ACCOUNT_MISMATCH',
          `notice ${n.number} is account ${n.account}'s, not ${p.account}'s`,
        );
      if (n.period_label !== p.period)
        collectionError(
          'NOTICE_PERIOD_MISMATCH',
          `notice ${n.number} is for ${n.period_label}, not ${p.period}: record the payment against the ${p.period} notice`,
        );
      if (
        p.reference &&
        this.db
          .prepare('SELECT 1 FROM collection_payments WHERE method = ? AND lower(reference) = lower(?)')
          .get(p.method, p.reference)
      )
        collectionError(
          'DUPLICATE_REFERENCE',
          `a ${p.method} payment with reference ${p.reference} is already recorded`,
        );
      const now = this.clock();
      const before = this.state(n, now);
      const principal = Math.min(fen, before.principalDueFen);
      const penalty = Math.min(fen - principal, before.penaltyDueFen);
      const credit = fen - principal - penalty;
      const info = this.db
        .prepare(
          `INSERT INTO collection_payments (notice, account, at, method, amount_fen, principal_fen, penalty_fen,
             credit_fen, reference, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(n.id, n.account, now, p.method, fen, principal, penalty, credit, p.reference ?? null, by.id);
      const paymentId = Number(info.lastInsertRowid);
      if (credit > 0)
        this.credit(n.account, credit, {
          notice: n.id,
          payment: paymentId,
          why: `overpaid notice ${n.number}`,
          by: by.id,
        });
      const after = this.state(n, now);
      const payment = after.payments.find((x) => x.id === paymentId)!;
      this.audit.append({
        actor: by.id,
        action: 'collection.payment',
        subject: `notice:${n.number}`,
        before: { outstandingFen: before.outstandingFen },
        after: {
          payment,
          outstandingFen: after.outstandingFen,
          creditBalanceFen: this.creditBalance(n.account),
        },
      });
      return { payment, notice: after, creditBalanceFen: this.creditBalance(n.account) };
    });
  }

  /** A notice's payments recorded by `asOf`, less those whose reversal was approved by then. */
  private effectivePayments(notice: number, asOf: number): Payment[] {
    return (
      this.db
        .prepare(
          `SELECT p.* FROM collection_payments p WHERE p.notice = ? AND p.at <= ? AND NOT EXISTS (
             SELECT 1 FROM payment_reversals r
               JOIN payment_reversal_decisions d ON d.reversal = r.id AND d.outcome = 'approved'
              WHERE r.payment = p.id AND d.decided_at <= ?)
           ORDER BY p.id`,
        )
        .all(notice, asOf, asOf) as PaymentRow[]
    ).map(toPayment);
  }

  /**
   * A payment recorded by mistake (a wrong amount typed, the wrong notice) is not edited: the clerk
   * asks for its reversal with the reason and an independent supervisor approves it. Only a
   * notice's latest payment is reversed, because later payments were allocated after it; credit it
   * left must still be there to take back.
   */
  requestReversal(by: Actor, paymentId: number, input: unknown): Reversal {
    assertCan(by, 'payments.record', 'ask for a payment reversal');
    const { reason } = parse(ReversalSchema, input);
    return this.tx(() => {
      const p = this.reversible(paymentId);
      const info = this.db
        .prepare(
          'INSERT INTO payment_reversals (payment, reason, requested_by, requested_at) VALUES (?, ?, ?, ?)',
        )
        .run(p.id, reason, by.id, this.clock());
      const id = Number(info.lastInsertRowid);
      this.audit.append({
        actor: by.id,
        action: 'collection.reversal-request',
        subject: `notice:${this.noticeNumber(p.notice)}`,
        after: { reversal: id, payment: p },
        reason,
      });
      return this.reversal(id);
    });
  }

  decideReversal(by: Actor, id: number, input: { approve: boolean; reason?: string }): Reversal {
    assertCan(by, 'payment-reversal.approve', 'decide a payment reversal');
    return this.tx(() => {
      const r = this.reversal(id);
      if (r.status !== 'pending')
        collectionError('REVERSAL_DECIDED', `reversal ${id} was already ${r.status}`);
      const now = this.clock();
      const links = { db: this.db, now };
      assertNotSelfApproval(r.requestedBy, by, 'approve this reversal', links);
      assertNotSelfApproval(
        r.payment.recordedBy,
        by,
        'approve the reversal of a payment they recorded',
        links,
      );
      if (input.approve) {
        this.reversible(r.payment.id, id);
        if (r.payment.creditFen > 0 && this.creditBalance(r.payment.account) < r.payment.creditFen)
          collectionError(
            'REVERSAL_CREDIT_USED',
            `payment ${r.payment.id} left ${r.payment.creditFen} fen of credit; ${r.payment.account} has ${this.creditBalance(r.payment.account)} left`,
          );
      }
      this.db
        .prepare(
          'INSERT INTO payment_reversal_decisions (reversal, outcome, reason, decided_by, decided_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(id, input.approve ? 'approved' : 'rejected', input.reason ?? null, by.id, now);
      if (input.approve && r.payment.creditFen > 0)
        this.credit(r.payment.account, -r.payment.creditFen, {
          notice: r.payment.notice,
          payment: r.payment.id,
          why: `payment ${r.payment.id} reversed`,
          by: by.id,
        });
      this.audit.append({
        actor: by.id,
        action: input.approve ? 'collection.reversal-approve' : 'collection.reversal-reject',
        subject: `notice:${this.noticeNumber(r.payment.notice)}`,
        after: {
          reversal: id,
          payment: r.payment.id,
          amountFen: r.payment.amountFen,
          requestedBy: r.requestedBy,
        },
        ...(input.reason ? { reason: input.reason } : {}),
      });
      return this.reversal(id);
    });
  }

  /** The payment, if it may be reversed now (`pending`: the reversal request being decided). */
  private reversible(paymentId: number, pending?: number): Payment {
    const row = this.db.prepare('SELECT * FROM collection_payments WHERE id = ?').get(paymentId) as
      PaymentRow | undefined;
    if (!row) return collectionError('PAYMENT_NOT_FOUND', `no payment ${paymentId}`);
    if (row.method === 'credit')
      collectionError('REVERSAL_NOT_ALLOWED', `payment ${paymentId} is a credit set-off, not money taken`);
    const open = this.db
      .prepare(
        `SELECT r.id FROM payment_reversals r LEFT JOIN payment_reversal_decisions d ON d.reversal = r.id
          WHERE r.payment = ? AND (d.outcome IS NULL OR d.outcome = 'approved') AND r.id IS NOT ?`,
      )
      .get(paymentId, pending ?? null) as { id: number } | undefined;
    if (open) collectionError('REVERSAL_EXISTS', `payment ${paymentId} has reversal ${open.id}`);
    const latest = this.effectivePayments(row.notice, Number.MAX_SAFE_INTEGER).at(-1);
    if (latest?.id !== paymentId)
      collectionError(
        'REVERSAL_NOT_LATEST',
        `payment ${latest?.id} was recorded on the notice after ${paymentId}: reverse it first`,
      );
    return toPayment(row);
  }

  private noticeNumber(id: number): string {
    return (this.db.prepare('SELECT number FROM payment_notices WHERE id = ?').get(id) as { number: string })
      .number;
  }

  reversal(id: number): Reversal {
    const r = this.db
      .prepare(
        `SELECT r.*, d.outcome, d.decided_by, d.decided_at FROM payment_reversals r
           LEFT JOIN payment_reversal_decisions d ON d.reversal = r.id WHERE r.id = ?`,
      )
      .get(id) as (RequestRow & { id: number; payment: number }) | undefined;
    if (!r) return collectionError('REVERSAL_NOT_FOUND', `no payment reversal ${id}`);
    const p = this.db.prepare('SELECT * FROM collection_payments WHERE id = ?').get(r.payment) as PaymentRow;
    return { id: r.id, payment: toPayment(p), notice: this.noticeNumber(p.notice), ...toRequest(r) };
  }

  pendingReversals(): Reversal[] {
    return (
      this.db
        .prepare(
          'SELECT r.id FROM payment_reversals r LEFT JOIN payment_reversal_decisions d ON d.reversal = r.id WHERE d.reversal IS NULL ORDER BY r.id',
        )
        .pluck()
        .all() as number[]
    ).map((id) => this.reversal(id));
  }

  /** Payments recorded in [from, to) (UTC ms), for the reconciliation; credit set-offs included with method `credit`. */
  paymentsBetween(from: number, to: number): Payment[] {
    return (
      this.db
        .prepare('SELECT * FROM collection_payments WHERE at >= ? AND at < ? ORDER BY id')
        .all(from, to) as PaymentRow[]
    ).map(toPayment);
  }

  // ---------------------------------------------------------------- arrears, reminders, penalties

  /** Every notice with something owed and overdue as of `asOf`, oldest first, with bucket totals. */
  arrears(by: Actor, asOf = this.clock()) {
    assertCan(by, 'collection.view', 'see arrears');
    const rows = this.db
      .prepare('SELECT * FROM payment_notices WHERE due_at <= ? ORDER BY due_at, id')
      .all(asOf) as NoticeRow[];
    const notices = rows
      .map((n) => this.state(n, asOf))
      .filter((s) => s.outstandingFen > 0 && s.daysOverdue > 0);
    const buckets = emptyBuckets();
    for (const s of notices) {
      const b = buckets[s.bucket as AgeBucket];
      b.count++;
      b.fen += s.outstandingFen;
    }
    return {
      asOf,
      timezone: this.timezone,
      buckets,
      totalFen: notices.reduce((s, n) => s + n.outstandingFen, 0),
      notices,
    };
  }

  /** A reminder delivered for an overdue notice: who, how, when; the penalty rule may start from it. */
  remind(by: Actor, input: unknown): NoticeState {
    assertCan(by, 'collection.remind', 'record a reminder');
    const r = parse(ReminderSchema, input);
    return this.tx(() => {
      const n = this.noticeRow(r.notice);
      const now = this.clock();
      const s = this.state(n, now);
      if (s.daysOverdue === 0 || s.outstandingFen <= 0)
        collectionError(
          'NOT_OVERDUE',
          `notice ${n.number} is not overdue (due ${s.dueDate}, owing ${s.outstandingFen} fen)`,
        );
      this.db
        .prepare(
          'INSERT INTO collection_reminders (notice, at, channel, note, recorded_by) VALUES (?, ?, ?, ?, ?)',
        )
        .run(n.id, now, r.channel, r.note ?? null, by.id);
      this.audit.append({
        actor: by.id,
        action: 'collection.reminder',
        subject: `notice:${n.number}`,
        after: { channel: r.channel, outstandingFen: s.outstandingFen, daysOverdue: s.daysOverdue },
      });
      return this.state(n, now);
    });
  }

  requestWaiver(by: Actor, input: unknown): Waiver {
    assertCan(by, 'penalty-waiver.request', 'ask for a penalty waiver');
    const w = parse(WaiverSchema, input);
    const fen = amount(w.amountFen, 'the waiver');
    return this.tx(() => {
      const n = this.noticeRow(w.notice);
      const s = this.state(n, this.clock());
      if (fen > s.penaltyDueFen)
        collectionError(
          'WAIVER_EXCEEDS_PENALTY',
          `notice ${n.number} owes ${s.penaltyDueFen} fen of penalty; ${fen} asked`,
        );
      const info = this.db
        .prepare(
          'INSERT INTO penalty_waivers (notice, amount_fen, reason, requested_by, requested_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(n.id, fen, w.reason, by.id, this.clock());
      const id = Number(info.lastInsertRowid);
      this.audit.append({
        actor: by.id,
        action: 'collection.waiver-request',
        subject: `notice:${n.number}`,
        after: { waiver: id, amountFen: fen, penaltyDueFen: s.penaltyDueFen },
        reason: w.reason,
      });
      return this.waiver(id);
    });
  }

  /** The second person approves or rejects a waiver: a supervisor independent of the requester. */
  decideWaiver(by: Actor, id: number, input: { approve: boolean; reason?: string }): Waiver {
    assertCan(by, 'penalty-waiver.approve', 'decide a penalty waiver');
    return this.tx(() => {
      const w = this.waiver(id);
      if (w.status !== 'pending') collectionError('WAIVER_DECIDED', `waiver ${id} was already ${w.status}`);
      assertNotSelfApproval(w.requestedBy, by, 'approve this waiver', { db: this.db, now: this.clock() });
      const n = this.db.prepare('SELECT * FROM payment_notices WHERE id = ?').get(w.notice) as NoticeRow;
      const s = this.state(n, this.clock());
      if (input.approve && w.amountFen > s.penaltyDueFen)
        collectionError(
          'WAIVER_EXCEEDS_PENALTY',
          `notice ${n.number} owes ${s.penaltyDueFen} fen of penalty now; the waiver is ${w.amountFen}`,
        );
      this.db
        .prepare(
          'INSERT INTO penalty_waiver_decisions (waiver, outcome, reason, decided_by, decided_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(id, input.approve ? 'approved' : 'rejected', input.reason ?? null, by.id, this.clock());
      this.audit.append({
        actor: by.id,
        action: input.approve ? 'collection.waiver-approve' : 'collection.waiver-reject',
        subject: `notice:${n.number}`,
        before: { penaltyDueFen: s.penaltyDueFen },
        after: { waiver: id, amountFen: w.amountFen, requestedBy: w.requestedBy },
        ...(input.reason ? { reason: input.reason } : {}),
      });
      return this.waiver(id);
    });
  }

  waiver(id: number): Waiver {
    const r = this.db
      .prepare(
        `SELECT w.*, d.outcome, d.decided_by, d.decided_at FROM penalty_waivers w
           LEFT JOIN penalty_waiver_decisions d ON d.waiver = w.id WHERE w.id = ?`,
      )
      .get(id) as (RequestRow & { id: number; notice: number; amount_fen: number }) | undefined;
    if (!r) return collectionError('WAIVER_NOT_FOUND', `no waiver ${id}`);
    return { id: r.id, notice: r.notice, amountFen: r.amount_fen, ...toRequest(r) };
  }

  pendingWaivers(): Waiver[] {
    return (
      this.db
        .prepare(
          'SELECT w.id FROM penalty_waivers w LEFT JOIN penalty_waiver_decisions d ON d.waiver = w.id WHERE d.waiver IS NULL ORDER BY w.id',
        )
        .pluck()
        .all() as number[]
    ).map((id) => this.waiver(id));
  }
}

/** The fee after decided objections: the last upheld decision's amount, else what was billed. */
function feeAfterObjections(billed: Fen, objections: readonly Objection[]): Fen {
  const upheld = objections
    .filter((o) => o.decision?.outcome === 'upheld')
    .sort((a, b) => a.decision!.decidedAt - b.decision!.decidedAt || a.id - b.id);
  return upheld.length > 0 ? upheld[upheld.length - 1]!.decision!.amountFen! : billed;
}
