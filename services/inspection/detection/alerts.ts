import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { assertCan } from '../../platform/auth/duties.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { detectionError } from './errors.ts';
import {
  EVENT_ALERT_TYPES,
  type AlertType,
  type Evidence,
  type Finding,
  type Severity,
  type Suspect,
} from './types.ts';

/**
 * The alerts inspectors work on (DOMAIN.md "Inspection"), in the back-office database. Detection
 * runs repeatedly; `sync` keeps one alert per ongoing condition (its finding key), updates its
 * evidence while it lasts and closes it when it ends, unless an inspector has already decided it.
 * Inspectors take an alert through open → assigned → field-checked → confirmed | dismissed (an
 * alert may also be dismissed before a field check). Every change, the automatic ones included,
 * is written with its audit entry in one transaction.
 */

export const ALERT_STATES = [
  'open',
  'assigned',
  'field-checked',
  'confirmed',
  'dismissed',
  'closed',
] as const;
export type AlertState = (typeof ALERT_STATES)[number];

/** What the detection service is called in the audit log. */
export const DETECTION_ACTOR = 'system:detection';
export const CONDITION_ENDED = 'condition ended';

export interface AlertStep {
  state: AlertState;
  by: string;
  at: number;
  notes?: string;
  assignee?: string;
}

export interface Alert {
  id: number;
  key: string;
  type: AlertType;
  severity: Severity;
  meter?: string;
  node?: string;
  score: number;
  since: number;
  reason: string;
  evidence: Evidence;
  suspects: Suspect[];
  unexplained?: number;
  state: AlertState;
  assignee?: string;
  /** True while detection still finds the condition. */
  active: boolean;
  openedAt: number;
  updatedAt: number;
  /** When detection last saw the condition end. */
  endedAt?: number;
  closedReason?: string;
  /** Every step, oldest first, with who took it. */
  steps: AlertStep[];
  /**
   * What was found as a code and its parameters, for a client to say in its user's language
   * (`reason` is the detector's English). Derived on read from the type, key and figures.
   */
  message: AlertText;
}

export interface AlertText {
  /** `alert.<type>`, or a variant: `alert.energy-balance.negative`, `alert.unauthorized-heating.electric`. */
  code: string;
  /** `where` (the meter or node), `unit` where known, and the figures the sentence names. */
  params: Record<string, number | string>;
}

/** The code and parameters of an alert's finding (see Alert.message). */
export function alertText(a: Pick<Alert, 'type' | 'key' | 'meter' | 'node' | 'evidence'>): AlertText {
  const f = a.evidence.figures;
  const params: Record<string, number | string> = { where: a.meter ?? a.node ?? '' };
  if (a.evidence.unit === 'kWh' || a.evidence.unit === 'm³') params.unit = a.evidence.unit;
  const pick = (...keys: string[]) => {
    for (const k of keys) if (f[k] !== undefined) params[k] = f[k]!;
  };
  let code = `alert.${a.type}`;
  if (a.type === 'energy-balance') {
    if (a.key.includes(':negative:')) code += '.negative';
    pick('unexplained', 'share');
  } else if (a.type === 'unauthorized-heating' && f.extraKwh !== undefined) {
    code += '.electric';
    pick('extraKwh');
  } else {
    pick('slots', 'decrease', 'deltaPKw', 'steps', 'maxDayKwh');
  }
  return { code, params };
}

export interface AlertFilter {
  state?: AlertState | readonly AlertState[];
  type?: AlertType;
  meter?: string;
  node?: string;
  assignee?: string;
  active?: boolean;
  limit?: number;
}

export type AlertChangeKind =
  'opened' | 'updated' | 'closed' | 'ended' | 'assigned' | 'field-checked' | 'confirmed' | 'dismissed';
export interface AlertChange {
  kind: AlertChangeKind;
  alert: Alert;
}

export interface SyncResult {
  opened: Alert[];
  updated: Alert[];
  closed: Alert[];
  /** Decided alerts whose condition ended (state unchanged). */
  ended: Alert[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  type TEXT NOT NULL,
  severity TEXT NOT NULL,
  meter TEXT,
  node TEXT,
  score REAL NOT NULL,
  since INTEGER NOT NULL,
  reason TEXT NOT NULL,
  evidence TEXT NOT NULL,
  suspects TEXT NOT NULL,
  unexplained REAL,
  state TEXT NOT NULL,
  assignee TEXT,
  active INTEGER NOT NULL,
  opened_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  ended_at INTEGER,
  closed_reason TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_active_key ON alerts (key) WHERE active = 1;
CREATE INDEX IF NOT EXISTS alerts_state ON alerts (state, id);
CREATE TABLE IF NOT EXISTS alert_steps (
  alert_id INTEGER NOT NULL REFERENCES alerts (id),
  seq INTEGER NOT NULL,
  state TEXT NOT NULL,
  by TEXT NOT NULL,
  at INTEGER NOT NULL,
  notes TEXT,
  assignee TEXT,
  PRIMARY KEY (alert_id, seq)
);
`;

interface Row {
  id: number;
  key: string;
  type: string;
  severity: string;
  meter: string | null;
  node: string | null;
  score: number;
  since: number;
  reason: string;
  evidence: string;
  suspects: string;
  unexplained: number | null;
  state: string;
  assignee: string | null;
  active: number;
  opened_at: number;
  updated_at: number;
  ended_at: number | null;
  closed_reason: string | null;
}

interface StepRow {
  state: string;
  by: string;
  at: number;
  notes: string | null;
  assignee: string | null;
}

/** States an inspector has not decided yet. */
const UNDECIDED: readonly AlertState[] = ['open', 'assigned', 'field-checked'];

/** The figures that say whether a finding changed enough to be an update. */
const summary = (a: { severity: string; score: number; reason: string }) => ({
  severity: a.severity,
  score: a.score,
  reason: a.reason,
});

export class AlertStore {
  private readonly listeners = new Set<(c: AlertChange) => void>();
  private readonly byId;
  private readonly activeByKey;
  private readonly activeAll;
  private readonly stepsOf;
  private readonly insertStep;

  constructor(
    private readonly db: BackofficeDb,
    private readonly audit: AuditLog,
    private readonly clock: Clock = Date.now,
  ) {
    db.exec(SCHEMA);
    this.byId = db.prepare<[number], Row>('SELECT * FROM alerts WHERE id = ?');
    this.activeByKey = db.prepare<[string], Row>('SELECT * FROM alerts WHERE key = ? AND active = 1');
    this.activeAll = db.prepare<[], Row>('SELECT * FROM alerts WHERE active = 1');
    this.stepsOf = db.prepare<[number], StepRow>(
      'SELECT state, by, at, notes, assignee FROM alert_steps WHERE alert_id = ? ORDER BY seq',
    );
    this.insertStep = db.prepare(
      `INSERT INTO alert_steps (alert_id, seq, state, by, at, notes, assignee)
       VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM alert_steps WHERE alert_id = ?), ?, ?, ?, ?, ?)`,
    );
  }

  /** Live changes (after they are committed); returns the unsubscribe function. */
  onChange(listener: (c: AlertChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(changes: AlertChange[]): void {
    for (const c of changes) {
      for (const l of this.listeners) {
        try {
          l(c);
        } catch {
          // A failing listener (a closed SSE stream, a broker that is down) must not undo or stop
          // the change; listeners report their own faults.
        }
      }
    }
  }

  private toAlert(r: Row): Alert {
    const evidence = JSON.parse(r.evidence) as Evidence;
    const where = {
      ...(r.meter !== null ? { meter: r.meter } : {}),
      ...(r.node !== null ? { node: r.node } : {}),
    };
    return {
      id: r.id,
      key: r.key,
      type: r.type as AlertType,
      severity: r.severity as Severity,
      ...(r.meter !== null ? { meter: r.meter } : {}),
      ...(r.node !== null ? { node: r.node } : {}),
      score: r.score,
      since: r.since,
      reason: r.reason,
      evidence,
      suspects: JSON.parse(r.suspects) as Suspect[],
      ...(r.unexplained !== null ? { unexplained: r.unexplained } : {}),
      state: r.state as AlertState,
      ...(r.assignee !== null ? { assignee: r.assignee } : {}),
      active: r.active === 1,
      openedAt: r.opened_at,
      updatedAt: r.updated_at,
      ...(r.ended_at !== null ? { endedAt: r.ended_at } : {}),
      ...(r.closed_reason !== null ? { closedReason: r.closed_reason } : {}),
      steps: this.stepsOf.all(r.id).map((s) => ({
        state: s.state as AlertState,
        by: s.by,
        at: s.at,
        ...(s.notes !== null ? { notes: s.notes } : {}),
        ...(s.assignee !== null ? { assignee: s.assignee } : {}),
      })),
      message: alertText({ type: r.type as AlertType, key: r.key, ...where, evidence }),
    };
  }

  private load(id: number): Alert {
    const r = this.byId.get(id);
    if (!r) detectionError('ALERT_NOT_FOUND', `no alert ${id}`);
    return this.toAlert(r);
  }

  /**
   * Brings the alerts in line with one detection run: a finding whose key has no active alert
   * opens one; one that has is updated where its severity, score or reason changed (the evidence
   * goes along); an active alert whose key is not among the findings has ended: closed with
   * 'condition ended' if undecided, else only marked ended. Findings with the same key are one
   * condition: the highest score wins.
   */
  /**
   * Opens an alert for an event (not a detector's condition), unless one with its key is already
   * open; detection runs never close it: an inspector decides. Returns the alert id.
   */
  raise(finding: Finding, now: number = this.clock()): number {
    if (!EVENT_ALERT_TYPES.has(finding.type)) {
      throw new Error(`alert type ${finding.type} is a detector's condition: use sync()`);
    }
    return this.db.transaction(() => {
      const row = this.activeByKey.get(finding.key);
      return row ? row.id : this.open(finding, now);
    })();
  }

  sync(findings: readonly Finding[], now: number = this.clock()): SyncResult {
    const byKey = new Map<string, Finding>();
    for (const f of findings) {
      const have = byKey.get(f.key);
      if (!have || f.score > have.score) byKey.set(f.key, f);
    }
    const ids = this.db.transaction(() => {
      const out = {
        opened: [] as number[],
        updated: [] as number[],
        closed: [] as number[],
        ended: [] as number[],
      };
      for (const f of byKey.values()) {
        const row = this.activeByKey.get(f.key);
        if (!row) {
          out.opened.push(this.open(f, now));
          continue;
        }
        const before = summary(row);
        const after = summary(f);
        if (JSON.stringify(before) === JSON.stringify(after)) continue;
        this.db
          .prepare(
            `UPDATE alerts SET severity = ?, score = ?, reason = ?, evidence = ?, suspects = ?, unexplained = ?,
               updated_at = ? WHERE id = ?`,
          )
          .run(
            f.severity,
            f.score,
            f.reason,
            JSON.stringify(f.evidence),
            JSON.stringify(f.suspects ?? []),
            f.unexplained ?? null,
            now,
            row.id,
          );
        this.audit.append({
          actor: DETECTION_ACTOR,
          action: 'alert.update',
          subject: `alert:${row.id}`,
          before,
          after,
        });
        out.updated.push(row.id);
      }
      for (const row of this.activeAll.all()) {
        if (byKey.has(row.key) || EVENT_ALERT_TYPES.has(row.type as AlertType)) continue;
        const undecided = UNDECIDED.includes(row.state as AlertState);
        if (undecided) {
          this.db
            .prepare(
              `UPDATE alerts SET active = 0, state = 'closed', closed_reason = ?, ended_at = ?, updated_at = ? WHERE id = ?`,
            )
            .run(CONDITION_ENDED, now, now, row.id);
          this.insertStep.run(row.id, row.id, 'closed', DETECTION_ACTOR, now, CONDITION_ENDED, null);
          this.audit.append({
            actor: DETECTION_ACTOR,
            action: 'alert.close',
            subject: `alert:${row.id}`,
            before: { state: row.state },
            after: { state: 'closed' },
            reason: CONDITION_ENDED,
          });
          out.closed.push(row.id);
        } else {
          this.db
            .prepare('UPDATE alerts SET active = 0, ended_at = ?, updated_at = ? WHERE id = ?')
            .run(now, now, row.id);
          this.audit.append({
            actor: DETECTION_ACTOR,
            action: 'alert.end',
            subject: `alert:${row.id}`,
            before: { active: true, state: row.state },
            after: { active: false, state: row.state },
            reason: `${CONDITION_ENDED} (already ${row.state})`,
          });
          out.ended.push(row.id);
        }
      }
      return out;
    })();
    const result: SyncResult = {
      opened: ids.opened.map((id) => this.load(id)),
      updated: ids.updated.map((id) => this.load(id)),
      closed: ids.closed.map((id) => this.load(id)),
      ended: ids.ended.map((id) => this.load(id)),
    };
    this.emit([
      ...result.opened.map((alert) => ({ kind: 'opened' as const, alert })),
      ...result.updated.map((alert) => ({ kind: 'updated' as const, alert })),
      ...result.closed.map((alert) => ({ kind: 'closed' as const, alert })),
      ...result.ended.map((alert) => ({ kind: 'ended' as const, alert })),
    ]);
    return result;
  }

  private open(f: Finding, now: number): number {
    const info = this.db
      .prepare(
        `INSERT INTO alerts (key, type, severity, meter, node, score, since, reason, evidence, suspects, unexplained,
           state, active, opened_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', 1, ?, ?)`,
      )
      .run(
        f.key,
        f.type,
        f.severity,
        f.meter ?? null,
        f.node ?? null,
        f.score,
        f.since,
        f.reason,
        JSON.stringify(f.evidence),
        JSON.stringify(f.suspects ?? []),
        f.unexplained ?? null,
        now,
        now,
      );
    const id = Number(info.lastInsertRowid);
    this.insertStep.run(id, id, 'open', DETECTION_ACTOR, now, null, null);
    this.audit.append({
      actor: DETECTION_ACTOR,
      action: 'alert.open',
      subject: `alert:${id}`,
      after: { key: f.key, type: f.type, ...summary(f), meter: f.meter, node: f.node },
    });
    return id;
  }

  list(filter: AlertFilter = {}): Alert[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.state !== undefined) {
      const states = typeof filter.state === 'string' ? [filter.state] : [...filter.state];
      where.push(`state IN (${states.map(() => '?').join(', ')})`);
      args.push(...states);
    }
    for (const [col, v] of [
      ['type', filter.type],
      ['meter', filter.meter],
      ['node', filter.node],
      ['assignee', filter.assignee],
    ] as const) {
      if (v === undefined) continue;
      where.push(`${col} = ?`);
      args.push(v);
    }
    if (filter.active !== undefined) {
      where.push('active = ?');
      args.push(filter.active ? 1 : 0);
    }
    const sql = `SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    args.push(filter.limit ?? 500);
    return (this.db.prepare(sql).all(...args) as Row[]).map((r) => this.toAlert(r));
  }

  get(id: number): Alert {
    return this.load(id);
  }

  // ── Inspectors ──

  private step(
    id: number,
    actor: Actor,
    what: string,
    to: AlertState,
    allowedFrom: readonly AlertState[],
    notes: string | undefined,
    assignee?: string,
  ): Alert {
    assertCan(actor, 'alerts.handle', what);
    const changed = this.db.transaction(() => {
      const before = this.load(id);
      if (!allowedFrom.includes(before.state)) {
        detectionError(
          'INVALID_TRANSITION',
          `alert ${id} is ${before.state}; to ${what} it must be ${allowedFrom.join(' or ')}`,
        );
      }
      const now = this.clock();
      this.db
        .prepare('UPDATE alerts SET state = ?, assignee = ?, updated_at = ? WHERE id = ?')
        .run(to, assignee ?? before.assignee ?? null, now, id);
      this.insertStep.run(id, id, to, actor.id, now, notes ?? null, assignee ?? null);
      this.audit.append({
        actor: actor.id,
        action: `alert.${to === 'field-checked' ? 'field-check' : to === 'assigned' ? 'assign' : to === 'confirmed' ? 'confirm' : 'dismiss'}`,
        subject: `alert:${id}`,
        before: { state: before.state, ...(before.assignee ? { assignee: before.assignee } : {}) },
        after: {
          state: to,
          ...((assignee ?? before.assignee) ? { assignee: assignee ?? before.assignee } : {}),
        },
        ...(notes ? { reason: notes } : {}),
      });
      return this.load(id);
    })();
    this.emit([{ kind: to as AlertChangeKind, alert: changed }]);
    return changed;
  }

  private notes(text: string | undefined, what: string): string {
    const t = (text ?? '').trim();
    if (t === '') detectionError('BAD_INPUT', `${what} needs notes: what was found on site`);
    if (t.length > 2000) detectionError('BAD_INPUT', `${what}: notes are at most 2000 characters`);
    return t;
  }

  /** Gives the alert to an inspector (again, to reassign it before the field check). */
  assign(id: number, input: { inspector: string; actor: Actor; notes?: string }): Alert {
    const inspector = input.inspector.trim();
    if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/.test(inspector))
      detectionError('BAD_INPUT', `"${input.inspector}" is not a user name to assign the alert to`);
    const notes = input.notes?.trim() || undefined;
    return this.step(id, input.actor, 'assign an alert', 'assigned', ['open', 'assigned'], notes, inspector);
  }

  /** Records what was checked on site. */
  fieldCheck(id: number, input: { notes: string; actor: Actor }): Alert {
    const notes = this.notes(input.notes, 'a field check');
    return this.step(id, input.actor, 'record a field check', 'field-checked', ['assigned'], notes);
  }

  /** Confirms the condition after the field check. */
  confirm(id: number, input: { notes: string; actor: Actor }): Alert {
    const notes = this.notes(input.notes, 'a confirmation');
    return this.step(id, input.actor, 'confirm an alert', 'confirmed', ['field-checked'], notes);
  }

  /** Dismisses the alert (a false alarm or an explained case), with why. */
  dismiss(id: number, input: { notes: string; actor: Actor }): Alert {
    const notes = this.notes(input.notes, 'a dismissal');
    return this.step(id, input.actor, 'dismiss an alert', 'dismissed', UNDECIDED, notes);
  }
}
