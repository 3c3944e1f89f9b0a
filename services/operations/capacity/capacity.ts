import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { assertCan, assertNotSelfApproval } from '../../platform/auth/duties.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { fail, type ErrorCatalogue } from '../../platform/errors.ts';
import type { CampusTree, TreeNode } from '../../metering/live/types.ts';
import type { ReadingStore } from '../../metering/storage.ts';
import { peakDemand } from './peak.ts';

/**
 * Capacity-increase applications (DOMAIN.md "Operations and the public window"): the business
 * window records a customer's application (utility, the increase in whole kVA, m³/h or m², the
 * reason, attachments by their SHA-256); an operator reviews it against the measured peak demand
 * of the feeder or transformer it hangs on over the last year and that element's rating
 * (`maxPowerKw` in the campus file), which fixes the fee under the published standard; two
 * supervisors approve, each independent of the recorder, the reviewer and each other; the work
 * is carried out as a work order and recorded done. Decided applications are public with their
 * outcome (not the applicant). Every step is audited; money is integer fen.
 */

export const CAPACITY_ERRORS = {
  INVALID_APPLICATION: {
    status: 422,
    description:
      'The meter is unknown or of another utility, or the increase is not a whole positive amount.',
  },
  APPLICATION_NOT_FOUND: { status: 404, description: 'No capacity application with this id.' },
  APPLICATION_STATE: { status: 409, description: 'The application is not at the step this act belongs to.' },
  NO_FEE_STANDARD: {
    status: 409,
    description: 'The public window publishes no fee standard for this utility.',
  },
} as const satisfies ErrorCatalogue;

export type CapacityUtility = 'electricity' | 'water' | 'heat';
export const CAPACITY_UNIT: Record<CapacityUtility, string> = {
  electricity: 'kVA',
  water: 'm³/h',
  heat: 'm²',
};
const REGISTER = { electricity: 'energy_import_kwh', water: 'volume_m3', heat: 'heat_kwh' } as const;

export type CapacityState = 'applied' | 'reviewed' | 'approved-once' | 'approved' | 'rejected' | 'done';

export interface Review {
  element: string;
  elementName: string;
  /** Highest 15-minute demand over the last year (kW, m³/h), null without readings. */
  peak: number | null;
  peakAt: number | null;
  rating: number | null;
  headroom: number | null;
  /** Whether the increase fits the headroom; null when the rating is unknown. */
  fits: boolean | null;
  /** Each day's peak over the year, for the chart. */
  daily: [number, number][];
  feeFen: number;
  note: string;
}

export interface CapacityApplication {
  id: number;
  utility: CapacityUtility;
  meter: string;
  applicant: string;
  increase: number;
  unit: string;
  reason: string;
  attachments: { name: string; sha256: string }[];
  state: CapacityState;
  recordedBy: string;
  recordedAt: number;
  review: Review | null;
  reviewedBy: string | null;
  approvals: { by: string; at: number }[];
  decidedAt: number | null;
  decisionNote: string | null;
  doneBy: string | null;
  doneAt: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS capacity_applications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  data TEXT NOT NULL
);
`;

const YEAR = 365 * 86_400_000;

export interface CapacityDeps {
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  tree: CampusTree;
  store: ReadingStore;
  /** Fen per unit of increase, from the published fee standards. */
  feePerUnitFen: (utility: CapacityUtility) => number | undefined;
  /** The rating of a metering element (maxPowerKw in the campus file), if known. */
  ratingOf: (meter: string) => number | undefined;
  dayStart: (ts: number) => number;
}

export class CapacityApplications {
  constructor(private readonly d: CapacityDeps) {
    d.db.exec(SCHEMA);
  }

  apply(
    actor: Actor,
    input: {
      utility: CapacityUtility;
      meter: string;
      applicant: string;
      increase: number;
      reason: string;
      attachments?: { name: string; sha256: string }[];
    },
  ): CapacityApplication {
    assertCan(actor, 'capacity.apply', 'record a capacity application');
    const node = this.d.tree.nodes[input.meter];
    if (!node || node.kind !== input.utility)
      fail(
        CAPACITY_ERRORS,
        'INVALID_APPLICATION',
        `${input.meter} is not a ${input.utility} meter of the campus`,
      );
    if (!Number.isSafeInteger(input.increase) || input.increase <= 0)
      fail(
        CAPACITY_ERRORS,
        'INVALID_APPLICATION',
        `the increase ${input.increase} is not a whole positive amount`,
      );
    const now = this.d.clock();
    const a: Omit<CapacityApplication, 'id'> = {
      ...{ utility: input.utility, meter: input.meter, applicant: input.applicant, increase: input.increase },
      ...{ unit: CAPACITY_UNIT[input.utility], reason: input.reason, attachments: input.attachments ?? [] },
      ...{
        state: 'applied',
        recordedBy: actor.id,
        recordedAt: now,
        review: null,
        reviewedBy: null,
        approvals: [],
      },
      ...{ decidedAt: null, decisionNote: null, doneBy: null, doneAt: null },
    };
    return this.d.db.transaction(() => {
      const id = Number(
        this.d.db.prepare('INSERT INTO capacity_applications (data) VALUES (?)').run(JSON.stringify(a))
          .lastInsertRowid,
      );
      this.d.audit.append({ actor: actor.id, action: 'capacity.apply', subject: `capacity:${id}`, after: a });
      return this.get(id);
    })();
  }

  /** The operator's review against the feeder's or transformer's last year; fixes the fee. */
  async review(actor: Actor, id: number, note: string): Promise<CapacityApplication> {
    assertCan(actor, 'capacity.review', 'review a capacity application');
    const a = this.get(id);
    if (a.state !== 'applied') fail(CAPACITY_ERRORS, 'APPLICATION_STATE', `application ${id} is ${a.state}`);
    const perUnit = this.d.feePerUnitFen(a.utility);
    if (perUnit === undefined)
      fail(CAPACITY_ERRORS, 'NO_FEE_STANDARD', `no published fee standard for ${a.utility}`);
    const element = this.elementOf(this.d.tree.nodes[a.meter]!);
    const now = this.d.clock();
    const points = await this.d.store.series({
      meters: [element.id],
      quantity: REGISTER[a.utility],
      from: now - YEAR,
      to: now,
    });
    const peak = peakDemand(points, this.d.dayStart);
    const rating = this.d.ratingOf(element.id) ?? null;
    const headroom = rating !== null && peak ? rating - peak.rate : null;
    const review: Review = {
      ...{
        element: element.id,
        elementName: element.name,
        peak: peak?.rate ?? null,
        peakAt: peak?.at ?? null,
      },
      ...{
        rating,
        headroom,
        fits: headroom === null ? null : a.increase <= headroom,
        daily: peak?.daily ?? [],
      },
      feeFen: a.increase * perUnit,
      note: note.trim(),
    };
    return this.update(a, { state: 'reviewed', review, reviewedBy: actor.id }, actor, 'capacity.review');
  }

  /** Two supervisors, each independent of the recorder, the reviewer and the other approver. */
  approve(actor: Actor, id: number): CapacityApplication {
    assertCan(actor, 'capacity.approve', 'approve a capacity application');
    const a = this.get(id);
    if (a.state !== 'reviewed' && a.state !== 'approved-once')
      fail(CAPACITY_ERRORS, 'APPLICATION_STATE', `application ${id} is ${a.state}, not reviewed`);
    const now = this.d.clock();
    for (const earlier of [a.recordedBy, a.reviewedBy!, ...a.approvals.map((x) => x.by)])
      assertNotSelfApproval(earlier, actor, `approve capacity application ${id}`, { db: this.d.db, now });
    const approvals = [...a.approvals, { by: actor.id, at: now }];
    const done = approvals.length >= 2;
    return this.update(
      a,
      { approvals, state: done ? 'approved' : 'approved-once', ...(done ? { decidedAt: now } : {}) },
      actor,
      'capacity.approve',
    );
  }

  reject(actor: Actor, id: number, note: string): CapacityApplication {
    assertCan(actor, 'capacity.approve', 'reject a capacity application');
    const a = this.get(id);
    if (a.state !== 'reviewed' && a.state !== 'approved-once')
      fail(CAPACITY_ERRORS, 'APPLICATION_STATE', `application ${id} is ${a.state}, not reviewed`);
    const now = this.d.clock();
    assertNotSelfApproval(a.recordedBy, actor, `reject capacity application ${id}`, { db: this.d.db, now });
    return this.update(
      a,
      { state: 'rejected', decidedAt: now, decisionNote: note.trim() },
      actor,
      'capacity.reject',
    );
  }

  /** The work order carried out: by an operator, not one of the approvers. */
  done(actor: Actor, id: number): CapacityApplication {
    assertCan(actor, 'capacity.review', 'record a capacity work order done');
    const a = this.get(id);
    if (a.state !== 'approved')
      fail(CAPACITY_ERRORS, 'APPLICATION_STATE', `application ${id} is ${a.state}, not approved`);
    return this.update(
      a,
      { state: 'done', doneBy: actor.id, doneAt: this.d.clock() },
      actor,
      'capacity.done',
    );
  }

  get(id: number): CapacityApplication {
    const r = this.d.db.prepare('SELECT id, data FROM capacity_applications WHERE id = ?').get(id) as
      { id: number; data: string } | undefined;
    if (!r) fail(CAPACITY_ERRORS, 'APPLICATION_NOT_FOUND', `no capacity application ${id}`);
    return { id: r.id, ...(JSON.parse(r.data) as Omit<CapacityApplication, 'id'>) };
  }

  list(): CapacityApplication[] {
    return (
      this.d.db.prepare('SELECT id FROM capacity_applications ORDER BY id DESC').all() as { id: number }[]
    ).map((r) => this.get(r.id));
  }

  /** The feeder or transformer (or substation) above a meter, else its root. */
  private elementOf(n: TreeNode): TreeNode {
    for (let cur: TreeNode | undefined = n; cur; cur = cur.parent ? this.d.tree.nodes[cur.parent] : undefined)
      if (cur.role === 'feeder' || cur.role === 'transformer' || cur.role === 'substation') return cur;
    let root = n;
    while (root.parent && this.d.tree.nodes[root.parent]) root = this.d.tree.nodes[root.parent]!;
    return root;
  }

  private update(
    a: CapacityApplication,
    change: Partial<CapacityApplication>,
    actor: Actor,
    action: string,
  ): CapacityApplication {
    const { id, ...before } = a;
    const next = { ...before, ...change };
    return this.d.db.transaction(() => {
      const r = this.d.db
        .prepare('UPDATE capacity_applications SET data = ? WHERE id = ? AND data = ?')
        .run(JSON.stringify(next), id, JSON.stringify(before));
      if (r.changes !== 1) fail(CAPACITY_ERRORS, 'APPLICATION_STATE', `application ${id} changed meanwhile`);
      this.d.audit.append({
        actor: actor.id,
        action,
        subject: `capacity:${id}`,
        before: { state: a.state },
        after: {
          ...change,
          ...(change.review ? { review: { ...change.review, daily: change.review.daily.length } } : {}),
        },
      });
      return this.get(id);
    })();
  }
}
