import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { assertCan, assertNotSelfApproval } from '../../platform/auth/duties.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { fail, type ErrorCatalogue } from '../../platform/errors.ts';
import { localTimeToUtc, wallClock } from '../consumption/zone.ts';
import type { CampusTree } from '../live/types.ts';
import type { ValidatedSource } from '../vee/types.ts';

/**
 * Annual use plans (DOMAIN.md: the operations department sets each unit's annual water plan; use
 * against it is followed through the year). An operator proposes a unit's plan for a year (the
 * unit's meters and the quantity); a supervisor other than the proposer approves it, and a later
 * approved version replaces it. Use per month comes from the validated (VEE) daily intervals of
 * the unit's meters, in the campus zone; each plan warns once at 80 % and once at 100 % of the
 * year's quantity (an audit entry, which the notices and the desk read), and gives a year-end
 * report per unit. Quantities are kept in thousandths (litres for m³, Wh for kWh) as integers.
 */

export const PLAN_ERRORS = {
  INVALID_PLAN: {
    status: 422,
    description: 'A meter is unknown or of another utility, or the quantity is not positive.',
  },
  PLAN_NOT_FOUND: {
    status: 404,
    description: 'No plan with this id, or no approved plan for this unit and year.',
  },
  PLAN_STATE: { status: 409, description: 'The plan was already decided.' },
} as const satisfies ErrorCatalogue;

export type PlanUtility = 'water' | 'electricity';
export type PlanState = 'proposed' | 'approved' | 'rejected' | 'superseded';

export interface UsePlan {
  id: number;
  unit: string;
  name: string;
  utility: PlanUtility;
  year: number;
  meters: string[];
  quantityMilli: number;
  state: PlanState;
  proposedBy: string;
  proposedAt: number;
  decidedBy: string | null;
  decidedAt: number | null;
}

export interface PlanMonth {
  /** YYYY-MM. */
  month: string;
  useMilli: number;
  /** Thousandths of the month's use that VEE estimated. */
  estimatedMilli: number;
}

export interface PlanStatus {
  plan: UsePlan;
  months: PlanMonth[];
  useMilli: number;
  /** Use / plan in basis points (10000 = 100 %), rounded down. */
  shareBp: number;
  /** 0 none, 80 or 100: the highest level reached. */
  level: 0 | 80 | 100;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS use_plans (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  unit TEXT NOT NULL, name TEXT NOT NULL,
  utility TEXT NOT NULL CHECK (utility IN ('water', 'electricity')),
  year INTEGER NOT NULL, meters TEXT NOT NULL,
  quantity_milli INTEGER NOT NULL CHECK (quantity_milli > 0),
  state TEXT NOT NULL CHECK (state IN ('proposed', 'approved', 'rejected', 'superseded')),
  proposed_by TEXT NOT NULL, proposed_at INTEGER NOT NULL,
  decided_by TEXT, decided_at INTEGER, decision_note TEXT
);
CREATE TABLE IF NOT EXISTS use_plan_warnings (
  plan INTEGER NOT NULL, level INTEGER NOT NULL, at INTEGER NOT NULL, use_milli INTEGER NOT NULL,
  PRIMARY KEY (plan, level)
);
`;

interface Row {
  id: number;
  unit: string;
  name: string;
  utility: PlanUtility;
  year: number;
  meters: string;
  quantity_milli: number;
  state: PlanState;
  proposed_by: string;
  proposed_at: number;
  decided_by: string | null;
  decided_at: number | null;
}

const toPlan = (r: Row): UsePlan => ({
  id: r.id,
  unit: r.unit,
  name: r.name,
  utility: r.utility,
  year: r.year,
  meters: JSON.parse(r.meters) as string[],
  quantityMilli: r.quantity_milli,
  state: r.state,
  proposedBy: r.proposed_by,
  proposedAt: r.proposed_at,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at,
});

export const PLANS_ACTOR = 'system:plans';
const QUANTITY = { water: 'volume_m3', electricity: 'energy_import_kwh' } as const;

export interface UsePlansDeps {
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  tree: CampusTree;
  timezone: string;
  source: ValidatedSource;
}

export class UsePlans {
  constructor(private readonly d: UsePlansDeps) {
    d.db.exec(SCHEMA);
  }

  propose(
    actor: Actor,
    input: {
      unit: string;
      name: string;
      utility: PlanUtility;
      year: number;
      meters: string[];
      quantity: number;
    },
  ): UsePlan {
    assertCan(actor, 'plans.propose', 'propose a use plan');
    const meters = [...new Set(input.meters)];
    const wrong = meters.filter((m) => this.d.tree.nodes[m]?.kind !== input.utility);
    if (meters.length === 0 || wrong.length > 0)
      fail(
        PLAN_ERRORS,
        'INVALID_PLAN',
        `not ${input.utility} meters of the campus: ${wrong.join(', ') || '(none given)'}`,
      );
    const quantityMilli = Math.round(input.quantity * 1000);
    if (!(quantityMilli > 0) || !Number.isSafeInteger(quantityMilli))
      fail(PLAN_ERRORS, 'INVALID_PLAN', `quantity ${input.quantity} is not a positive amount`);
    const now = this.d.clock();
    return this.d.db.transaction(() => {
      const id = Number(
        this.d.db
          .prepare(
            `INSERT INTO use_plans (unit, name, utility, year, meters, quantity_milli, state, proposed_by, proposed_at)
             VALUES (?, ?, ?, ?, ?, ?, 'proposed', ?, ?)`,
          )
          .run(
            input.unit,
            input.name,
            input.utility,
            input.year,
            JSON.stringify(meters),
            quantityMilli,
            actor.id,
            now,
          ).lastInsertRowid,
      );
      this.d.audit.append({
        actor: actor.id,
        action: 'plan.propose',
        subject: `plan:${id}`,
        after: { unit: input.unit, utility: input.utility, year: input.year, meters, quantityMilli },
      });
      return this.get(id);
    })();
  }

  /** The second person; the unit's earlier approved plan for the year is superseded. */
  approve(actor: Actor, id: number): UsePlan {
    assertCan(actor, 'plans.approve', 'approve a use plan');
    const p = this.get(id);
    const now = this.d.clock();
    if (p.state !== 'proposed') fail(PLAN_ERRORS, 'PLAN_STATE', `plan ${id} is ${p.state}`);
    assertNotSelfApproval(p.proposedBy, actor, `approve plan ${id}`, { db: this.d.db, now });
    return this.d.db.transaction(() => {
      const old = this.approved(p.unit, p.utility, p.year);
      if (old) {
        this.d.db.prepare(`UPDATE use_plans SET state = 'superseded' WHERE id = ?`).run(old.id);
        this.d.audit.append({
          actor: actor.id,
          action: 'plan.supersede',
          subject: `plan:${old.id}`,
          after: { by: id },
        });
      }
      this.d.db
        .prepare(`UPDATE use_plans SET state = 'approved', decided_by = ?, decided_at = ? WHERE id = ?`)
        .run(actor.id, now, id);
      this.d.audit.append({
        actor: actor.id,
        action: 'plan.approve',
        subject: `plan:${id}`,
        before: { state: 'proposed' },
        after: { state: 'approved' },
      });
      return this.get(id);
    })();
  }

  reject(actor: Actor, id: number, note: string): UsePlan {
    assertCan(actor, 'plans.approve', 'reject a use plan');
    const p = this.get(id);
    const now = this.d.clock();
    if (p.state !== 'proposed') fail(PLAN_ERRORS, 'PLAN_STATE', `plan ${id} is ${p.state}`);
    assertNotSelfApproval(p.proposedBy, actor, `reject plan ${id}`, { db: this.d.db, now });
    return this.d.db.transaction(() => {
      this.d.db
        .prepare(
          `UPDATE use_plans SET state = 'rejected', decided_by = ?, decided_at = ?, decision_note = ? WHERE id = ?`,
        )
        .run(actor.id, now, note, id);
      this.d.audit.append({ actor: actor.id, action: 'plan.reject', subject: `plan:${id}`, reason: note });
      return this.get(id);
    })();
  }

  get(id: number): UsePlan {
    const r = this.d.db.prepare('SELECT * FROM use_plans WHERE id = ?').get(id) as Row | undefined;
    if (!r) fail(PLAN_ERRORS, 'PLAN_NOT_FOUND', `no plan ${id}`);
    return toPlan(r);
  }

  list(year?: number): UsePlan[] {
    return (
      this.d.db
        .prepare('SELECT * FROM use_plans WHERE (@year IS NULL OR year = @year) ORDER BY unit, id')
        .all({ year: year ?? null }) as Row[]
    ).map(toPlan);
  }

  approved(unit: string, utility: PlanUtility, year: number): UsePlan | undefined {
    const r = this.d.db
      .prepare(`SELECT * FROM use_plans WHERE unit = ? AND utility = ? AND year = ? AND state = 'approved'`)
      .get(unit, utility, year) as Row | undefined;
    return r ? toPlan(r) : undefined;
  }

  /** Use per local month of the plan's year, up to now (or the year's end), against the plan. */
  async status(plan: UsePlan): Promise<PlanStatus> {
    const now = this.d.clock();
    const tz = this.d.timezone;
    const from = localTimeToUtc(tz, plan.year, 1, 1);
    const to = Math.min(now, localTimeToUtc(tz, plan.year + 1, 1, 1));
    const months: PlanMonth[] = [];
    for (let m = 1; m <= 12 && localTimeToUtc(tz, plan.year, m, 1) < to; m++)
      months.push({ month: `${plan.year}-${String(m).padStart(2, '0')}`, useMilli: 0, estimatedMilli: 0 });
    // One read of the year per meter (VEE validates a range at once), days put in their local month.
    for (const meter of plan.meters) {
      const days = await this.d.source.intervals({
        meter,
        quantity: QUANTITY[plan.utility],
        from,
        to,
        step: '1d',
      });
      for (const x of days) {
        const month = months[wallClock(x.start, tz).month - 1];
        if (!month || x.start < from) continue;
        // Each day to the thousandth, then summed as integers: the months add up to the year exactly.
        const v = Math.round((x.value ?? 0) * 1000);
        month.useMilli += v;
        if (x.source === 'estimated') month.estimatedMilli += v;
      }
    }
    const useMilli = months.reduce((s, x) => s + x.useMilli, 0);
    const shareBp = Math.floor((useMilli * 10_000) / plan.quantityMilli);
    return { plan, months, useMilli, shareBp, level: shareBp >= 10_000 ? 100 : shareBp >= 8_000 ? 80 : 0 };
  }

  /**
   * Each approved plan of `year` that reached 80 % or 100 % since the last check: recorded once per
   * level (a restart or a second check says nothing twice), audited as `plan.warning`.
   */
  async warn(year: number): Promise<{ plan: number; level: 80 | 100; useMilli: number }[]> {
    const out: { plan: number; level: 80 | 100; useMilli: number }[] = [];
    for (const p of this.list(year).filter((x) => x.state === 'approved')) {
      const s = await this.status(p);
      for (const level of [80, 100] as const) {
        if (s.shareBp < level * 100) continue;
        const now = this.d.clock();
        const added = this.d.db.transaction(() => {
          const r = this.d.db
            .prepare(
              'INSERT OR IGNORE INTO use_plan_warnings (plan, level, at, use_milli) VALUES (?, ?, ?, ?)',
            )
            .run(p.id, level, now, s.useMilli);
          if (r.changes === 0) return false;
          this.d.audit.append({
            actor: PLANS_ACTOR,
            action: 'plan.warning',
            subject: `plan:${p.id}`,
            after: { unit: p.unit, year: p.year, level, useMilli: s.useMilli, planMilli: p.quantityMilli },
          });
          return true;
        })();
        if (added) out.push({ plan: p.id, level, useMilli: s.useMilli });
      }
    }
    return out;
  }

  /** The year-end report of a unit: its approved plan, use per month, total, over or under. */
  async yearEnd(unit: string, utility: PlanUtility, year: number) {
    const plan = this.approved(unit, utility, year);
    if (!plan) fail(PLAN_ERRORS, 'PLAN_NOT_FOUND', `no approved ${utility} plan for ${unit} in ${year}`);
    const s = await this.status(plan);
    return {
      unit: plan.unit,
      name: plan.name,
      utility,
      year,
      planMilli: plan.quantityMilli,
      months: s.months,
      useMilli: s.useMilli,
      /** > 0: over the plan by this much. */
      overMilli: s.useMilli - plan.quantityMilli,
      shareBp: s.shareBp,
      complete: this.d.clock() >= localTimeToUtc(this.d.timezone, year + 1, 1, 1),
    };
  }
}
