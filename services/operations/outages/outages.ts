import type { OutagesSettings } from '../../../config/schemas/operations-desk.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { assertCan, assertNotSelfApproval } from '../../platform/auth/duties.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import type { CampusTree } from '../../metering/live/types.ts';
import type { ReadingStore } from '../../metering/storage.ts';
import { downstreamOf, TopologyError, type Downstream, type Utility } from './downstream.ts';
import { outageFail } from './errors.ts';
import { observe, TOLERANCE_MS, type Observation } from './observe.ts';

/**
 * Planned water, power and heat outages: an operator plans one on a node of the metering tree with
 * a window and a reason; a supervisor of that utility (not the planner, nor an account linked to
 * them) approves it at least `minNoticeHours` ahead, which publishes the notice with every
 * building, room and account downstream. From the start until `settleMinutes` after the planned
 * end the affected meters are in a planned outage: the live view marks them, detection raises no
 * balance, stopped-meter or heating alert that began then, and the prepaid policy neither cuts nor
 * restores them. Afterwards the node's readings are judged (observe.ts) and recorded against the
 * notice. Every step is one audit entry in the same transaction as the change.
 */

export type OutageState = 'planned' | 'approved' | 'rejected' | 'cancelled';
/** Where an outage stands at a given time (derived, never stored). */
export type OutagePhase =
  'awaiting-approval' | 'rejected' | 'cancelled' | 'announced' | 'in-progress' | 'settling' | 'ended';

export interface PlannedOutage {
  id: number;
  utility: Utility;
  node: string;
  nodeName: string;
  startsAt: number;
  endsAt: number;
  reason: string;
  state: OutageState;
  plannedBy: string;
  plannedAt: number;
  decidedBy: string | null;
  decidedAt: number | null;
  decisionNote: string | null;
  /** When the notice went public: the approval. */
  publishedAt: number | null;
  affected: Downstream;
  observation: Observation | null;
  observedAt: number | null;
}

export interface PlanInput {
  utility: Utility;
  node: string;
  startsAt: number;
  endsAt: number;
  reason: string;
}

export const OUTAGES_ACTOR = 'system:outages';

/** Alert types an outage explains: the supply was off on purpose. */
export const EXPLAINED_ALERT_TYPES: ReadonlySet<string> = new Set([
  'energy-balance',
  'meter-stopped',
  'unauthorized-heating',
]);

/** How long after the planned end the readings are awaited before an outage is recorded as not restored. */
const GIVE_UP_MS = 24 * 3_600_000;
const HOUR = 3_600_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS planned_outages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  utility TEXT NOT NULL CHECK (utility IN ('electricity', 'water', 'heat')),
  node TEXT NOT NULL,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL CHECK (ends_at > starts_at),
  reason TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('planned', 'approved', 'rejected', 'cancelled')),
  planned_by TEXT NOT NULL,
  planned_at INTEGER NOT NULL,
  decided_by TEXT,
  decided_at INTEGER,
  decision_note TEXT,
  published_at INTEGER,
  affected TEXT NOT NULL,
  observation TEXT,
  observed_at INTEGER
);
CREATE INDEX IF NOT EXISTS planned_outages_window ON planned_outages (state, ends_at);
`;

interface Row {
  id: number;
  utility: Utility;
  node: string;
  starts_at: number;
  ends_at: number;
  reason: string;
  state: OutageState;
  planned_by: string;
  planned_at: number;
  decided_by: string | null;
  decided_at: number | null;
  decision_note: string | null;
  published_at: number | null;
  affected: string;
  observation: string | null;
  observed_at: number | null;
}

const toOutage = (r: Row): PlannedOutage => {
  const affected = JSON.parse(r.affected) as Downstream;
  return {
    id: r.id,
    utility: r.utility,
    node: r.node,
    nodeName: affected.nodeName,
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    reason: r.reason,
    state: r.state,
    plannedBy: r.planned_by,
    plannedAt: r.planned_at,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    decisionNote: r.decision_note,
    publishedAt: r.published_at,
    affected,
    observation: r.observation ? (JSON.parse(r.observation) as Observation) : null,
    observedAt: r.observed_at,
  };
};

export interface OutagesDeps {
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  tree: CampusTree;
  settings: OutagesSettings;
  /**
   * The prepaid accounts of each meter (the campus file names only post-paid ones), read once per
   * plan so that a room opened yesterday is on today's notice.
   */
  accounts?: () => ReadonlyMap<string, readonly string[]>;
  /**
   * Told of each notice published or withdrawn (approval, cancellation of an approved one): the
   * notifier. It cannot undo the change; channels record their own failures.
   */
  onPublished?: (outage: PlannedOutage) => void;
}

export class PlannedOutages {
  private readonly settleMs: number;
  /** Approved outages not yet over, cached: the live view and detection ask per meter. */
  private current: PlannedOutage[] | null = null;

  constructor(private readonly d: OutagesDeps) {
    d.db.exec(SCHEMA);
    this.settleMs = d.settings.settleMinutes * 60_000;
  }

  plan(actor: Actor, input: PlanInput): PlannedOutage {
    assertCan(actor, 'outages.plan', 'plan an outage');
    const now = this.d.clock();
    const reason = input.reason.trim();
    let affected: Downstream;
    try {
      const accounts = this.d.accounts?.();
      affected = downstreamOf(this.d.tree, input.node, input.utility, (m) => accounts?.get(m) ?? []);
    } catch (e) {
      if (e instanceof TopologyError) outageFail('UNKNOWN_NODE', e.message);
      throw e;
    }
    this.checkWindow(input.startsAt, input.endsAt, now);
    return this.d.db.transaction(() => {
      const id = Number(
        this.d.db
          .prepare(
            `INSERT INTO planned_outages (utility, node, starts_at, ends_at, reason, state, planned_by, planned_at, affected)
             VALUES (?, ?, ?, ?, ?, 'planned', ?, ?, ?)`,
          )
          .run(
            input.utility,
            input.node,
            input.startsAt,
            input.endsAt,
            reason,
            actor.id,
            now,
            JSON.stringify(affected),
          ).lastInsertRowid,
      );
      this.d.audit.append({
        actor: actor.id,
        action: 'outage.plan',
        subject: `outage:${id}`,
        after: {
          ...{ utility: input.utility, node: input.node, startsAt: input.startsAt, endsAt: input.endsAt },
          ...{
            buildings: affected.buildings.length,
            rooms: affected.rooms.length,
            accounts: affected.accounts.length,
          },
        },
        reason,
      });
      return this.get(id);
    })();
  }

  /** The second person: publishes the notice. */
  approve(actor: Actor, id: number, note?: string): PlannedOutage {
    assertCan(actor, 'outages.approve', 'approve an outage');
    const now = this.d.clock();
    const o = this.get(id);
    if (o.state !== 'planned')
      outageFail('OUTAGE_STATE', `outage ${id} is ${o.state}, not awaiting approval`);
    assertNotSelfApproval(o.plannedBy, actor, `approve outage ${id}`, { db: this.d.db, now });
    this.assertUtilitySupervisor(actor, o.utility);
    const noticeMs = this.d.settings.minNoticeHours * HOUR;
    if (o.startsAt - now < noticeMs) {
      outageFail(
        'NOTICE_TOO_LATE',
        `outage ${id} starts ${new Date(o.startsAt).toISOString()}: a notice published now gives less than ${this.d.settings.minNoticeHours} h`,
      );
    }
    const approved = this.decide(actor, o, 'approved', note?.trim() || null, now);
    this.tell(approved);
    return approved;
  }

  reject(actor: Actor, id: number, note: string): PlannedOutage {
    assertCan(actor, 'outages.approve', 'reject an outage');
    const now = this.d.clock();
    const o = this.get(id);
    if (o.state !== 'planned')
      outageFail('OUTAGE_STATE', `outage ${id} is ${o.state}, not awaiting approval`);
    assertNotSelfApproval(o.plannedBy, actor, `reject outage ${id}`, { db: this.d.db, now });
    this.assertUtilitySupervisor(actor, o.utility);
    return this.decide(actor, o, 'rejected', note.trim(), now);
  }

  /**
   * Withdraws an outage before it starts: the planner their own unapproved plan, a supervisor of
   * the utility an approved one (the public notice then says cancelled; nothing is exempted).
   */
  cancel(actor: Actor, id: number, note: string): PlannedOutage {
    const now = this.d.clock();
    const o = this.get(id);
    if (o.state === 'planned') {
      if (actor.id.toLowerCase() !== o.plannedBy.toLowerCase())
        assertCan(actor, 'outages.approve', 'cancel an outage');
      else assertCan(actor, 'outages.plan', 'withdraw an outage');
    } else if (o.state === 'approved') {
      assertCan(actor, 'outages.approve', 'cancel an approved outage');
      this.assertUtilitySupervisor(actor, o.utility);
      if (now >= o.startsAt) outageFail('OUTAGE_STATE', `outage ${id} has started; it cannot be cancelled`);
    } else {
      outageFail('OUTAGE_STATE', `outage ${id} is ${o.state}`);
    }
    const cancelled = this.d.db.transaction(() => {
      this.d.db
        .prepare(
          `UPDATE planned_outages SET state = 'cancelled', decision_note = ? WHERE id = ? AND state = ?`,
        )
        .run(note.trim(), id, o.state);
      this.d.audit.append({
        actor: actor.id,
        action: 'outage.cancel',
        subject: `outage:${id}`,
        before: { state: o.state },
        after: { state: 'cancelled' },
        reason: note.trim(),
      });
      this.current = null;
      return this.get(id);
    })();
    if (o.state === 'approved') this.tell(cancelled);
    return cancelled;
  }

  /** The public page shows the notice whatever a channel does; a channel's failure is its own. */
  private tell(o: PlannedOutage): void {
    try {
      this.d.onPublished?.(o);
    } catch {
      // Channels log and record their own failures.
    }
  }

  get(id: number): PlannedOutage {
    const r = this.d.db.prepare('SELECT * FROM planned_outages WHERE id = ?').get(id) as Row | undefined;
    if (!r) outageFail('OUTAGE_NOT_FOUND', `no planned outage ${id}`);
    return toOutage(r);
  }

  list(filter: { state?: OutageState; endsAfter?: number; limit?: number } = {}): PlannedOutage[] {
    const rows = this.d.db
      .prepare(
        `SELECT * FROM planned_outages WHERE (@state IS NULL OR state = @state) AND ends_at > @after
         ORDER BY starts_at DESC, id DESC LIMIT @limit`,
      )
      .all({
        state: filter.state ?? null,
        after: filter.endsAfter ?? -1,
        limit: filter.limit ?? 200,
      }) as Row[];
    return rows.map(toOutage);
  }

  phase(o: PlannedOutage, now: number): OutagePhase {
    if (o.state === 'planned') return 'awaiting-approval';
    if (o.state === 'rejected' || o.state === 'cancelled') return o.state;
    if (now < o.startsAt) return 'announced';
    if (now < o.endsAt) return 'in-progress';
    if (now < o.endsAt + this.settleMs) return 'settling';
    return 'ended';
  }

  /** The approved outage a meter is in at `now` (from its start to settleMinutes after its end), if any. */
  outageOf(meter: string, now: number): PlannedOutage | undefined {
    return this.active(now).find((o) => o.affected.meters.includes(meter));
  }

  /**
   * Whether an alert-to-be is explained by a planned outage: its type is one a cut causes, its
   * meter or node is downstream of the outage's node, and the condition began in the window (a
   * poll interval's margin before the start) while the outage has not yet settled. A condition
   * that began before the window, or lasts past the settling time, is raised as always.
   */
  explains(f: { type: string; meter?: string; node?: string; since: number }, now: number): boolean {
    if (!EXPLAINED_ALERT_TYPES.has(f.type)) return false;
    const id = f.meter ?? f.node;
    if (id === undefined) return false;
    return this.active(now).some(
      (o) =>
        o.affected.meters.includes(id) &&
        f.since >= o.startsAt - TOLERANCE_MS &&
        f.since < o.endsAt + this.settleMs,
    );
  }

  /**
   * Records what the readings show for every approved outage past its settling time that has
   * none yet: once supply came back, or GIVE_UP_MS after the planned end as not restored.
   * Returns the outages recorded.
   */
  async judge(store: ReadingStore): Promise<PlannedOutage[]> {
    const now = this.d.clock();
    const due = (
      this.d.db
        .prepare(
          `SELECT * FROM planned_outages WHERE state = 'approved' AND observed_at IS NULL AND ends_at + ? <= ?`,
        )
        .all(this.settleMs, now) as Row[]
    ).map(toOutage);
    const out: PlannedOutage[] = [];
    for (const o of due) {
      const meters = this.judgedMeters(o);
      const from = o.startsAt - 6 * HOUR;
      const to = Math.min(now, o.endsAt + GIVE_UP_MS);
      const byMeter = new Map(
        await Promise.all(meters.map(async (m) => [m, await store.readings(m, from, to)] as const)),
      );
      const obs = observe(o, byMeter);
      const final = !obs.verdicts.includes('not-restored') || now >= o.endsAt + GIVE_UP_MS;
      if (!final) continue;
      out.push(this.record(o, obs, now));
    }
    return out;
  }

  private record(o: PlannedOutage, obs: Observation, now: number): PlannedOutage {
    return this.d.db.transaction(() => {
      this.d.db
        .prepare(
          'UPDATE planned_outages SET observation = ?, observed_at = ? WHERE id = ? AND observed_at IS NULL',
        )
        .run(JSON.stringify(obs), now, o.id);
      this.d.audit.append({
        actor: OUTAGES_ACTOR,
        action: 'outage.observed',
        subject: `outage:${o.id}`,
        after: obs,
        reason: `readings of ${obs.meters.join(', ')}: ${obs.verdicts.join(', ')}`,
      });
      return this.get(o.id);
    })();
  }

  /** The node's own meter; an OPC UA device group has none, so its meters are judged. */
  private judgedMeters(o: PlannedOutage): string[] {
    const n = this.d.tree.nodes[o.node];
    return n && n.kind === 'group' ? n.children : [o.node];
  }

  private active(now: number): PlannedOutage[] {
    this.current ??= this.list({ state: 'approved', endsAfter: now - this.settleMs, limit: 10_000 });
    // The cache holds every outage not over when it was read; those over since are skipped here.
    return this.current.filter((o) => now >= o.startsAt && now < o.endsAt + this.settleMs);
  }

  private checkWindow(startsAt: number, endsAt: number, now: number): void {
    const { minNoticeHours, maxWindowHours } = this.d.settings;
    if (!(endsAt > startsAt)) outageFail('INVALID_WINDOW', 'the window must end after it starts');
    if (endsAt - startsAt > maxWindowHours * HOUR) {
      outageFail('INVALID_WINDOW', `the window is longer than outages.maxWindowHours (${maxWindowHours} h)`);
    }
    if (startsAt - now < minNoticeHours * HOUR) {
      outageFail(
        'INVALID_WINDOW',
        `the outage starts in less than outages.minNoticeHours (${minNoticeHours} h): the people affected must be told ahead`,
      );
    }
  }

  private assertUtilitySupervisor(actor: Actor, utility: Utility): void {
    const named = this.d.settings.approvers[utility];
    if (named.length > 0 && !named.includes(actor.id.trim().toLowerCase())) {
      outageFail(
        'NOT_UTILITY_SUPERVISOR',
        `${actor.id} is not a supervisor of ${utility} (outages.approvers.${utility}: ${named.join(', ')})`,
      );
    }
  }

  private decide(
    actor: Actor,
    o: PlannedOutage,
    state: 'approved' | 'rejected',
    note: string | null,
    now: number,
  ) {
    return this.d.db.transaction(() => {
      const changed = this.d.db
        .prepare(
          `UPDATE planned_outages SET state = ?, decided_by = ?, decided_at = ?, decision_note = ?, published_at = ?
           WHERE id = ? AND state = 'planned'`,
        )
        .run(state, actor.id, now, note, state === 'approved' ? now : null, o.id).changes;
      if (changed !== 1) outageFail('OUTAGE_STATE', `outage ${o.id} was decided meanwhile`);
      this.d.audit.append({
        actor: actor.id,
        action: state === 'approved' ? 'outage.approve' : 'outage.reject',
        subject: `outage:${o.id}`,
        before: { state: 'planned' },
        after: { state, ...(state === 'approved' ? { publishedAt: now } : {}) },
        ...(note ? { reason: note } : {}),
      });
      this.current = null;
      return this.get(o.id);
    })();
  }
}
