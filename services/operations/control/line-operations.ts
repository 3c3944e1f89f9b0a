import type { Actor } from '../../platform/auth/roles.ts';
import { assertCan, assertNotSelfApproval } from '../../platform/auth/duties.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { controlError } from './errors.ts';
import { MAX_FUTURE_MS, OPEN_STATES, requireText, type Handover, type LineOperation } from './relay-types.ts';

/**
 * The power room's own records: line cuts and restores done by hand, each confirmed by a second,
 * independent person, and the shift handover with what was still open.
 */
export class LineOperations {
  constructor(
    private readonly db: BackofficeDb,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  /** A duty operator records a line cut or restore done in the power room; a second person confirms it. */
  recordLineOperation(
    by: Actor,
    input: { line: string; action: 'cut' | 'restore'; reason: string; at: number },
  ): LineOperation {
    assertCan(by, 'lines.record', 'record a line cut or restore');
    const line = requireText(input.line, 'the line');
    const reason = requireText(input.reason, 'a reason');
    if (input.action !== 'cut' && input.action !== 'restore')
      controlError('BAD_INPUT', 'action is cut or restore');
    const now = this.clock();
    if (!Number.isInteger(input.at) || input.at > now + MAX_FUTURE_MS) {
      controlError('BAD_INPUT', 'at must be the time of the operation (UTC ms), not in the future');
    }
    return this.db.transaction(() => {
      const id = Number(
        this.db
          .prepare(
            `INSERT INTO line_operations (line, action, reason, at, recorded_by, recorded_at, state)
             VALUES (?, ?, ?, ?, ?, ?, 'unconfirmed')`,
          )
          .run(line, input.action, reason, input.at, by.id, now).lastInsertRowid,
      );
      this.audit.append({
        actor: by.id,
        action: `line.${input.action}`,
        subject: `line-operation:${id}`,
        after: { line, action: input.action, at: input.at, state: 'unconfirmed' },
        reason,
      });
      return this.lineOperation(id);
    })();
  }

  /** The second person confirms (true) or disputes (false) a line operation record. */
  confirmLineOperation(by: Actor, id: number, confirmed = true, note?: string): LineOperation {
    assertCan(by, 'lines.confirm', 'confirm a line cut or restore');
    if (!confirmed) requireText(note, 'a note saying what is wrong');
    return this.db.transaction(() => {
      const op = this.lineOperation(id);
      if (op.state !== 'unconfirmed')
        controlError('INVALID_STATE', `line operation ${id} is already ${op.state}`);
      assertNotSelfApproval(op.recordedBy, by, 'confirm it', { db: this.db, now: this.clock() });
      const state = confirmed ? 'confirmed' : 'disputed';
      this.db
        .prepare(
          'UPDATE line_operations SET state = ?, confirmed_by = ?, confirmed_at = ?, note = ? WHERE id = ?',
        )
        .run(state, by.id, this.clock(), note ?? null, id);
      this.audit.append({
        actor: by.id,
        action: confirmed ? 'line.confirm' : 'line.dispute',
        subject: `line-operation:${id}`,
        before: { state: 'unconfirmed' },
        after: { state },
        reason: note,
      });
      return this.lineOperation(id);
    })();
  }

  /** Line operations, newest first; by state (e.g. those still waiting for a second person). */
  lineOperations(filter: { state?: LineOperation['state']; limit?: number } = {}): LineOperation[] {
    const limit = Math.min(Math.max(1, filter.limit ?? 200), 1000);
    const ids = (
      filter.state
        ? this.db
            .prepare('SELECT id FROM line_operations WHERE state = ? ORDER BY id DESC LIMIT ?')
            .all(filter.state, limit)
        : this.db.prepare('SELECT id FROM line_operations ORDER BY id DESC LIMIT ?').all(limit)
    ) as { id: number }[];
    return ids.map((r) => this.lineOperation(r.id));
  }

  lineOperation(id: number): LineOperation {
    const r = this.db.prepare('SELECT * FROM line_operations WHERE id = ?').get(id) as
      | (Omit<LineOperation, 'recordedBy' | 'recordedAt' | 'confirmedBy' | 'confirmedAt'> & {
          recorded_by: string;
          recorded_at: number;
          confirmed_by: string | null;
          confirmed_at: number | null;
        })
      | undefined;
    if (!r) controlError('NOT_FOUND', `no line operation ${id}`);
    return {
      id: r.id,
      line: r.line,
      action: r.action,
      reason: r.reason,
      at: r.at,
      recordedBy: r.recorded_by,
      recordedAt: r.recorded_at,
      state: r.state,
      confirmedBy: r.confirmed_by,
      confirmedAt: r.confirmed_at,
      note: r.note,
    };
  }

  /** Shift handover: the note, and a snapshot of what is still open, so nothing falls between shifts. */
  handover(by: Actor, to: string, notes: string): Handover {
    assertCan(by, 'handover.report', 'hand over a shift');
    const toUser = requireText(to, 'who takes over');
    if (toUser === by.id) controlError('BAD_INPUT', 'a shift is handed over to someone else');
    const text = requireText(notes, 'handover notes');
    return this.db.transaction(() => {
      const open = {
        requests: (
          this.db
            .prepare(
              `SELECT id FROM relay_requests WHERE state IN (${OPEN_STATES.map(() => '?').join(', ')}) ORDER BY id`,
            )
            .all(...OPEN_STATES) as { id: number }[]
        ).map((r) => r.id),
        lineOperations: (
          this.db.prepare(`SELECT id FROM line_operations WHERE state = 'unconfirmed' ORDER BY id`).all() as {
            id: number;
          }[]
        ).map((r) => r.id),
      };
      const at = this.clock();
      const id = Number(
        this.db
          .prepare(
            'INSERT INTO shift_handovers (from_user, to_user, notes, at, open_items) VALUES (?, ?, ?, ?, ?)',
          )
          .run(by.id, toUser, text, at, JSON.stringify(open)).lastInsertRowid,
      );
      this.audit.append({
        actor: by.id,
        action: 'shift.handover',
        subject: `handover:${id}`,
        after: { to: toUser, open },
        reason: text,
      });
      return { id, from: by.id, to: toUser, notes: text, at, open };
    })();
  }
}
