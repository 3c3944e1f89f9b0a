import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { canonicalJson } from '../../platform/audit/canonical-json.ts';
import { assertCan, assertNotSelfApproval } from '../../platform/auth/duties.ts';
import { authFail } from '../../platform/auth/errors.ts';
import { can, type Actor, type Permission } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { inputProblems } from '../../platform/input-problems.ts';
import { isFen, type Fen } from '../billing/money.ts';
import { reconciliationError } from './errors.ts';
import { parseHalfMonth, type HalfMonth } from './half-month.ts';
import { RECONCILIATION_SCHEMA } from './schema.ts';
import { emptyByMethod, RECON_METHODS, takingsBetween, type ByMethod, type Takings } from './takings.ts';

/**
 * The half-monthly reconciliation (DOMAIN.md "Readings and billing" 4, "Prepaid electricity"):
 * the business office's takings for a half month against the cash and bank records finance
 * entered and against the inspection department's list of post-paid payments. One report per half
 * month names every difference; each must be explained before the clerk, the assistant and the
 * supervisor sign, in that order, three people independent of each other and of whoever kept the
 * records. The first signature freezes the report; a correction is a new version.
 */

export const SIGNING_STEPS = ['clerk', 'assistant', 'supervisor'] as const;
export type SigningStep = (typeof SIGNING_STEPS)[number];
const STEP_PERMISSION: Record<SigningStep, Permission> = {
  clerk: 'reconciliation.sign-clerk',
  assistant: 'reconciliation.sign-assistant',
  supervisor: 'reconciliation.sign-supervisor',
};

export interface Difference {
  /** `method:<cash|card|transfer>` (takings against finance) or `notice:<number>` (against the inspection list). */
  key: string;
  kind: 'finance' | 'inspection';
  systemFen: Fen;
  otherFen: Fen;
  /** system − other. */
  differenceFen: Fen;
}

export interface Figures {
  half: HalfMonth;
  takings: Takings;
  finance: ByMethod;
  inspection: { items: number; fen: Fen; perNotice: Record<string, Fen> };
  differences: Difference[];
}

export interface Report {
  id: number;
  half: string;
  version: number;
  preparedBy: string;
  preparedAt: number;
  reason: string | null;
  figures: Figures;
  digest: string;
  explanations: { key: string; text: string; explainedBy: string; explainedAt: number }[];
  signatures: { step: SigningStep; signedBy: string; signedAt: number }[];
  /** The next signature it waits for, or null when complete. */
  nextStep: SigningStep | null;
  /** A newer version exists. */
  superseded: boolean;
  unexplained: string[];
}

export interface ReconciliationOptions {
  db: BackofficeDb;
  audit: AuditLog;
  clock?: Clock;
  timezone: string;
}

const MAX_FEN = 1_000_000_000;
const Half = z.string().trim().max(16);
export const FinanceRecordSchema = z
  .object({
    half: Half,
    method: z.enum(RECON_METHODS),
    amountFen: z.unknown().describe('Whole fen; negative to reverse a wrong record'),
    reference: z.string().trim().min(1).max(64).describe('Deposit slip or bank statement line'),
    note: z.string().trim().max(500).optional(),
  })
  .strict();
export const InspectionItemSchema = z
  .object({
    half: Half,
    notice: z.string().trim().min(1).max(64),
    amountFen: z
      .unknown()
      .describe('Whole fen, positive: what the inspection department has as paid on the notice'),
    note: z.string().trim().max(500).optional(),
  })
  .strict();
export const PrepareSchema = z
  .object({ half: Half, reason: z.string().trim().min(1).max(2000).optional() })
  .strict();
export const ExplainSchema = z
  .object({ key: z.string().trim().min(1).max(80), text: z.string().trim().min(1).max(2000) })
  .strict();

function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  return reconciliationError('INVALID_REQUEST', inputProblems(r.error));
}

const digestOf = (f: Figures) => createHash('sha256').update(canonicalJson(f)).digest('hex');

interface ReportRow {
  id: number;
  half: string;
  version: number;
  prepared_by: string;
  prepared_at: number;
  reason: string | null;
  figures: string;
  digest: string;
}

export class Reconciliation {
  private readonly db: BackofficeDb;
  private readonly audit: AuditLog;
  private readonly clock: Clock;
  readonly timezone: string;

  constructor(o: ReconciliationOptions) {
    this.db = o.db;
    this.audit = o.audit;
    this.clock = o.clock ?? Date.now;
    this.timezone = o.timezone;
    this.db.exec(RECONCILIATION_SCHEMA);
  }

  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  half(label: string): HalfMonth {
    return parseHalfMonth(label, this.timezone);
  }

  /** A cash deposit or bank record as finance has it; a wrong one is reversed by a negative record. */
  recordFinance(by: Actor, input: unknown) {
    assertCan(by, 'reconciliation.finance-records', 'enter finance records');
    const r = parse(FinanceRecordSchema, input);
    const half = this.half(r.half);
    if (!isFen(r.amountFen) || r.amountFen === 0 || Math.abs(r.amountFen) > MAX_FEN)
      reconciliationError(
        'INVALID_AMOUNT',
        `amountFen must be a non-zero whole number of fen, got ${JSON.stringify(r.amountFen)}`,
      );
    return this.tx(() => {
      const info = this.db
        .prepare(
          'INSERT INTO recon_finance_records (half, method, amount_fen, reference, note, entered_by, entered_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(half.label, r.method, r.amountFen, r.reference, r.note ?? null, by.id, this.clock());
      const record = {
        id: Number(info.lastInsertRowid),
        half: half.label,
        method: r.method,
        amountFen: r.amountFen as Fen,
        reference: r.reference,
      };
      this.audit.append({
        actor: by.id,
        action: 'reconciliation.finance-record',
        subject: `half:${half.label}`,
        after: record,
      });
      return record;
    });
  }

  /** One line of the inspection department's list: what it has as paid on a notice in the half month. */
  recordInspection(by: Actor, input: unknown) {
    assertCan(by, 'reconciliation.inspection-list', 'enter the inspection list');
    const r = parse(InspectionItemSchema, input);
    const half = this.half(r.half);
    if (!isFen(r.amountFen) || r.amountFen <= 0 || r.amountFen > MAX_FEN)
      reconciliationError(
        'INVALID_AMOUNT',
        `amountFen must be a positive whole number of fen, got ${JSON.stringify(r.amountFen)}`,
      );
    return this.tx(() => {
      const info = this.db
        .prepare(
          'INSERT INTO recon_inspection_items (half, notice, amount_fen, note, entered_by, entered_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(half.label, r.notice, r.amountFen, r.note ?? null, by.id, this.clock());
      const item = {
        id: Number(info.lastInsertRowid),
        half: half.label,
        notice: r.notice,
        amountFen: r.amountFen as Fen,
      };
      this.audit.append({
        actor: by.id,
        action: 'reconciliation.inspection-item',
        subject: `half:${half.label}`,
        after: item,
      });
      return item;
    });
  }

  /** The figures of a half month as the ledgers and records are now. */
  compute(half: HalfMonth): Figures {
    const takings = takingsBetween(this.db, half.from, half.to);
    const finance = emptyByMethod();
    for (const r of this.db
      .prepare(
        'SELECT method, COUNT(*) AS n, SUM(amount_fen) AS fen FROM recon_finance_records WHERE half = ? GROUP BY method',
      )
      .all(half.label) as { method: 'cash' | 'card' | 'transfer'; n: number; fen: number }[])
      finance[r.method] = { count: r.n, fen: r.fen };
    const perNotice: Record<string, Fen> = {};
    let items = 0;
    let fen = 0;
    for (const r of this.db
      .prepare(
        'SELECT notice, COUNT(*) AS n, SUM(amount_fen) AS fen FROM recon_inspection_items WHERE half = ? GROUP BY notice ORDER BY notice',
      )
      .all(half.label) as { notice: string; n: number; fen: number }[]) {
      perNotice[r.notice] = r.fen;
      items += r.n;
      fen += r.fen;
    }
    const differences: Difference[] = [];
    for (const m of RECON_METHODS) {
      if (takings.net[m] !== finance[m].fen)
        differences.push({
          key: `method:${m}`,
          kind: 'finance',
          systemFen: takings.net[m],
          otherFen: finance[m].fen,
          differenceFen: takings.net[m] - finance[m].fen,
        });
    }
    const notices = [...new Set([...Object.keys(takings.perNotice), ...Object.keys(perNotice)])].sort();
    for (const n of notices) {
      const sys = takings.perNotice[n] ?? 0;
      const other = perNotice[n] ?? 0;
      if (sys !== other)
        differences.push({
          key: `notice:${n}`,
          kind: 'inspection',
          systemFen: sys,
          otherFen: other,
          differenceFen: sys - other,
        });
    }
    return { half, takings, finance, inspection: { items, fen, perNotice }, differences };
  }

  /**
   * A new version of the half month's report, computed now. The half month must be over; a
   * version after the first needs the reason (a late bank record, a corrected payment).
   */
  prepare(by: Actor, input: unknown): Report {
    assertCan(by, 'reconciliation.prepare', 'prepare a reconciliation report');
    const p = parse(PrepareSchema, input);
    const half = this.half(p.half);
    const now = this.clock();
    if (now < half.to)
      reconciliationError('HALF_NOT_OVER', `${half.label} runs until ${new Date(half.to).toISOString()}`);
    return this.tx(() => {
      const last = this.db
        .prepare('SELECT MAX(version) AS v FROM recon_reports WHERE half = ?')
        .get(half.label) as { v: number | null };
      const version = (last.v ?? 0) + 1;
      if (version > 1 && !p.reason)
        reconciliationError(
          'REASON_REQUIRED',
          `${half.label} has version ${version - 1}: say why version ${version} replaces it`,
        );
      const figures = this.compute(half);
      const digest = digestOf(figures);
      const info = this.db
        .prepare(
          'INSERT INTO recon_reports (half, version, prepared_by, prepared_at, reason, figures, digest) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(half.label, version, by.id, now, p.reason ?? null, JSON.stringify(figures), digest);
      const id = Number(info.lastInsertRowid);
      this.audit.append({
        actor: by.id,
        action: 'reconciliation.prepare',
        subject: `reconciliation:${id}`,
        after: {
          half: half.label,
          version,
          digest,
          totalFen: figures.takings.totalFen,
          differences: figures.differences,
        },
        ...(p.reason ? { reason: p.reason } : {}),
      });
      return this.report(id);
    });
  }

  report(id: number): Report {
    const r = this.db.prepare('SELECT * FROM recon_reports WHERE id = ?').get(id) as ReportRow | undefined;
    if (!r) return reconciliationError('REPORT_NOT_FOUND', `no reconciliation report ${id}`);
    const figures = JSON.parse(r.figures) as Figures;
    const explanations = (
      this.db
        .prepare('SELECT * FROM recon_explanations WHERE report = ? ORDER BY explained_at, key')
        .all(id) as {
        key: string;
        text: string;
        explained_by: string;
        explained_at: number;
      }[]
    ).map((e) => ({ key: e.key, text: e.text, explainedBy: e.explained_by, explainedAt: e.explained_at }));
    const signed = this.db.prepare('SELECT * FROM recon_signatures WHERE report = ?').all(id) as {
      step: SigningStep;
      signed_by: string;
      signed_at: number;
    }[];
    const signatures = SIGNING_STEPS.flatMap((step) => {
      const s = signed.find((x) => x.step === step);
      return s ? [{ step, signedBy: s.signed_by, signedAt: s.signed_at }] : [];
    });
    const newer = this.db
      .prepare('SELECT 1 FROM recon_reports WHERE half = ? AND version > ?')
      .get(r.half, r.version);
    return {
      id: r.id,
      half: r.half,
      version: r.version,
      preparedBy: r.prepared_by,
      preparedAt: r.prepared_at,
      reason: r.reason,
      figures,
      digest: r.digest,
      explanations,
      signatures,
      nextStep: SIGNING_STEPS[signatures.length] ?? null,
      superseded: newer !== undefined,
      unexplained: figures.differences
        .map((d) => d.key)
        .filter((k) => !explanations.some((e) => e.key === k)),
    };
  }

  /** Every version of a half month, newest first. */
  reports(halfLabel: string): Report[] {
    const half = this.half(halfLabel);
    return (
      this.db
        .prepare('SELECT id FROM recon_reports WHERE half = ? ORDER BY version DESC')
        .pluck()
        .all(half.label) as number[]
    ).map((id) => this.report(id));
  }

  /** Reports of every half month, newest first (a summary: no figures). */
  list() {
    return (
      this.db
        .prepare('SELECT id FROM recon_reports ORDER BY half DESC, version DESC')
        .pluck()
        .all() as number[]
    ).map((id) => {
      const { figures: f, ...r } = this.report(id);
      return { ...r, totalFen: f.takings.totalFen, differences: f.differences.length };
    });
  }

  /** The stored figures must still hash to the digest audited when the version was prepared. */
  private assertIntact(r: Report): void {
    if (digestOf(r.figures) !== r.digest)
      reconciliationError(
        'REPORT_TAMPERED',
        `report ${r.id} (${r.half} v${r.version}) does not match its digest ${r.digest.slice(0, 12)}…: it was changed outside the service`,
      );
  }

  private assertOpen(r: Report): void {
    this.assertIntact(r);
    if (r.superseded)
      reconciliationError('SUPERSEDED', `report ${r.id} (${r.half} v${r.version}) has a newer version`);
    if (r.signatures.length > 0)
      reconciliationError(
        'REPORT_SIGNED',
        `report ${r.id} is signed by ${r.signatures[0]!.signedBy}: prepare a new version`,
      );
  }

  explain(by: Actor, reportId: number, input: unknown): Report {
    assertCan(by, 'reconciliation.prepare', 'explain a difference');
    const e = parse(ExplainSchema, input);
    return this.tx(() => {
      const r = this.report(reportId);
      this.assertOpen(r);
      const d = r.figures.differences.find((x) => x.key === e.key);
      if (!d) reconciliationError('NO_SUCH_DIFFERENCE', `report ${r.id} has no difference ${e.key}`);
      if (r.explanations.some((x) => x.key === e.key))
        reconciliationError('ALREADY_EXPLAINED', `${e.key} is already explained in report ${r.id}`);
      this.db
        .prepare(
          'INSERT INTO recon_explanations (report, key, text, explained_by, explained_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(r.id, e.key, e.text, by.id, this.clock());
      this.audit.append({
        actor: by.id,
        action: 'reconciliation.explain',
        subject: `reconciliation:${r.id}`,
        after: { key: e.key, differenceFen: d.differenceFen, text: e.text },
      });
      return this.report(r.id);
    });
  }

  /**
   * The next signature. The clerk's comes first and needs every difference explained and the
   * figures unchanged since the version was prepared; the assistant and the supervisor follow,
   * each a person independent of every earlier signer and none of them a keeper of the half
   * month's finance records or inspection list.
   */
  sign(by: Actor, reportId: number): Report {
    return this.tx(() => {
      const r = this.report(reportId);
      const step = r.nextStep;
      if (!step) return reconciliationError('WRONG_SIGNING_STEP', `report ${r.id} is signed by all three`);
      this.assertIntact(r);
      if (!can(by, STEP_PERMISSION[step]) && SIGNING_STEPS.some((x) => can(by, STEP_PERMISSION[x])))
        reconciliationError(
          'WRONG_SIGNING_STEP',
          `report ${r.id} is signed by the clerk, the assistant and the supervisor in that order; it waits for the ${step}`,
        );
      assertCan(by, STEP_PERMISSION[step], `sign report ${r.id} as the ${step}`);
      if (r.superseded)
        reconciliationError('SUPERSEDED', `report ${r.id} (${r.half} v${r.version}) has a newer version`);
      const now = this.clock();
      for (const s of r.signatures)
        assertNotSelfApproval(s.signedBy, by, `sign report ${r.id} as the ${step}`, { db: this.db, now });
      if (by.kind !== 'user')
        authFail('PERSON_REQUIRED', `${by.id} is an API token; only a person signs a reconciliation`);
      const keeper = this.db
        .prepare(
          `SELECT 'finance records' AS what FROM recon_finance_records WHERE half = ? AND lower(entered_by) = lower(?)
           UNION ALL SELECT 'the inspection list' FROM recon_inspection_items WHERE half = ? AND lower(entered_by) = lower(?) LIMIT 1`,
        )
        .get(r.half, by.id, r.half, by.id) as { what: string } | undefined;
      if (keeper)
        reconciliationError(
          'SIGNER_KEPT_RECORDS',
          `${by.id} entered ${keeper.what} of ${r.half} and may not sign its reconciliation`,
        );
      if (step === 'clerk' && r.unexplained.length > 0)
        reconciliationError(
          'UNEXPLAINED_DIFFERENCE',
          `report ${r.id} has differences not explained: ${r.unexplained.join(', ')}`,
        );
      // Every signer signs the figures as they still are: a payment recorded late, a bank record
      // added or reversed after the report was prepared makes it stale, whichever step is next.
      const current = this.compute(r.figures.half);
      if (digestOf(current) !== r.digest)
        reconciliationError(
          'REPORT_STALE',
          `the figures of ${r.half} changed since report ${r.id} was prepared (total ${r.figures.takings.totalFen} → ${current.takings.totalFen} fen, ${current.differences.length} differences): prepare a new version`,
        );
      this.db
        .prepare('INSERT INTO recon_signatures (report, step, signed_by, signed_at) VALUES (?, ?, ?, ?)')
        .run(r.id, step, by.id, now);
      this.audit.append({
        actor: by.id,
        action: `reconciliation.sign-${step}`,
        subject: `reconciliation:${r.id}`,
        after: { half: r.half, version: r.version, digest: r.digest },
      });
      return this.report(r.id);
    });
  }

  /** Finance's records and the inspection list of a half month, as entered (reversals included). */
  records(halfLabel: string) {
    const half = this.half(halfLabel);
    const finance = (
      this.db.prepare('SELECT * FROM recon_finance_records WHERE half = ? ORDER BY id').all(half.label) as {
        id: number;
        method: string;
        amount_fen: number;
        reference: string;
        note: string | null;
        entered_by: string;
        entered_at: number;
      }[]
    ).map((f) => ({
      id: f.id,
      method: f.method,
      amountFen: f.amount_fen,
      reference: f.reference,
      note: f.note,
      enteredBy: f.entered_by,
      enteredAt: f.entered_at,
    }));
    const inspection = (
      this.db.prepare('SELECT * FROM recon_inspection_items WHERE half = ? ORDER BY id').all(half.label) as {
        id: number;
        notice: string;
        amount_fen: number;
        note: string | null;
        entered_by: string;
        entered_at: number;
      }[]
    ).map((i) => ({
      id: i.id,
      notice: i.notice,
      amountFen: i.amount_fen,
      note: i.note,
      enteredBy: i.entered_by,
      enteredAt: i.entered_at,
    }));
    return { half, finance, inspection };
  }

  /** Whether a report's stored figures still hash to the digest recorded (and audited) when prepared. */
  verify(id: number): { ok: boolean } {
    const r = this.db.prepare('SELECT figures, digest FROM recon_reports WHERE id = ?').get(id) as
      ReportRow | undefined;
    if (!r) return reconciliationError('REPORT_NOT_FOUND', `no reconciliation report ${id}`);
    return { ok: digestOf(JSON.parse(r.figures) as Figures) === r.digest };
  }
}
