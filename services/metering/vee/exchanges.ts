import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { assertCan, assertNotSelfApproval } from '../../platform/auth/duties.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { veeFail } from './errors.ts';

/**
 * Meter exchanges and resets of post-paid meters, recorded directly (no prepaid account needed):
 * the clerk records what the fitter read (the old register at removal, the new one at
 * installation) and a supervisor, another and independent person, approves it, as for a prepaid
 * meter reset (the same duties: meter-reset.request and meter-reset.approve). Only approved
 * records split the meter's history (services/metering/installations.ts reads them), so one person
 * alone can never make consumption disappear into an "exchange". Each step is audited.
 */

export const EXCHANGE_KINDS = ['exchange', 'reset'] as const;
export type ExchangeKind = (typeof EXCHANGE_KINDS)[number];

export interface ExchangeInput {
  meter: string;
  kind: ExchangeKind;
  /** UTC ms when the old register stopped counting and the new one started. */
  at: number;
  registerBefore: number;
  registerAfter: number;
  /** The new device's serial number (an exchange). */
  newSerial?: string;
  note: string;
}

export interface MeterExchange extends ExchangeInput {
  id: number;
  status: 'pending' | 'approved' | 'rejected';
  requestedBy: string;
  requestedAt: number;
  decidedBy?: string;
  decidedAt?: number;
}

/** The table, created here and read by services/metering/installations.ts. */
export const EXCHANGES_SCHEMA = `
CREATE TABLE IF NOT EXISTS meter_exchanges (
  id INTEGER PRIMARY KEY,
  meter TEXT NOT NULL,
  kind TEXT NOT NULL,
  at INTEGER NOT NULL,
  register_before REAL NOT NULL,
  register_after REAL NOT NULL,
  new_serial TEXT,
  note TEXT NOT NULL,
  status TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  decided_by TEXT,
  decided_at INTEGER
);
CREATE INDEX IF NOT EXISTS meter_exchanges_meter ON meter_exchanges (meter, status, at);
`;

interface Row {
  id: number;
  meter: string;
  kind: ExchangeKind;
  at: number;
  register_before: number;
  register_after: number;
  new_serial: string | null;
  note: string;
  status: MeterExchange['status'];
  requested_by: string;
  requested_at: number;
  decided_by: string | null;
  decided_at: number | null;
}

const toExchange = (r: Row): MeterExchange => ({
  id: r.id,
  meter: r.meter,
  kind: r.kind,
  at: r.at,
  registerBefore: r.register_before,
  registerAfter: r.register_after,
  ...(r.new_serial !== null ? { newSerial: r.new_serial } : {}),
  note: r.note,
  status: r.status,
  requestedBy: r.requested_by,
  requestedAt: r.requested_at,
  ...(r.decided_by !== null ? { decidedBy: r.decided_by } : {}),
  ...(r.decided_at !== null ? { decidedAt: r.decided_at } : {}),
});

export class MeterExchanges {
  constructor(private readonly deps: { db: BackofficeDb; audit: AuditLog; clock: Clock }) {
    deps.db.exec(EXCHANGES_SCHEMA);
  }

  /** Records an exchange or reset as the fitter reported it; it counts once a supervisor approves. */
  request(actor: Actor, input: ExchangeInput): MeterExchange {
    assertCan(actor, 'meter-reset.request', 'record a meter exchange or reset');
    const now = this.deps.clock();
    const problem = invalid(input, now);
    if (problem) veeFail('VEE_INVALID_EXCHANGE', problem);
    return this.deps.db.transaction(() => {
      const info = this.deps.db
        .prepare(
          `INSERT INTO meter_exchanges (meter, kind, at, register_before, register_after, new_serial, note, status,
             requested_by, requested_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
        )
        .run(
          input.meter,
          input.kind,
          input.at,
          input.registerBefore,
          input.registerAfter,
          input.newSerial ?? null,
          input.note.trim(),
          actor.id,
          now,
        );
      const id = Number(info.lastInsertRowid);
      this.deps.audit.append({
        actor: actor.id,
        action: 'meter.exchange.request',
        subject: `meter:${input.meter}`,
        after: { id, ...input },
      });
      return this.get(id);
    })();
  }

  /** A supervisor other than, and independent of, the one who recorded it approves or rejects it. */
  decide(actor: Actor, id: number, approve: boolean, reason?: string): MeterExchange {
    assertCan(actor, 'meter-reset.approve', `${approve ? 'approve' : 'reject'} a meter exchange or reset`);
    const now = this.deps.clock();
    return this.deps.db.transaction(() => {
      const x = this.get(id);
      if (x.status !== 'pending') veeFail('VEE_EXCHANGE_DECIDED', `exchange ${id} was ${x.status} already`);
      assertNotSelfApproval(x.requestedBy, actor, 'approve this meter exchange', { db: this.deps.db, now });
      const status = approve ? 'approved' : 'rejected';
      this.deps.db
        .prepare('UPDATE meter_exchanges SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?')
        .run(status, actor.id, now, id);
      this.deps.audit.append({
        actor: actor.id,
        action: `meter.exchange.${approve ? 'approve' : 'reject'}`,
        subject: `meter:${x.meter}`,
        before: { id, status: 'pending' },
        after: { id, status },
        reason: reason?.trim() || undefined,
      });
      return this.get(id);
    })();
  }

  get(id: number): MeterExchange {
    const r = this.deps.db.prepare('SELECT * FROM meter_exchanges WHERE id = ?').get(id) as Row | undefined;
    if (!r) veeFail('VEE_EXCHANGE_NOT_FOUND', `no meter exchange ${id}`);
    return toExchange(r);
  }

  list(status?: MeterExchange['status']): MeterExchange[] {
    const rows = (
      status
        ? this.deps.db.prepare('SELECT * FROM meter_exchanges WHERE status = ? ORDER BY at, id').all(status)
        : this.deps.db.prepare('SELECT * FROM meter_exchanges ORDER BY at, id').all()
    ) as Row[];
    return rows.map(toExchange);
  }
}

function invalid(x: ExchangeInput, now: number): string | undefined {
  if (typeof x.meter !== 'string' || !x.meter.trim()) return 'meter is missing';
  if (!(EXCHANGE_KINDS as readonly string[]).includes(x.kind))
    return `kind ${String(x.kind)} is not exchange or reset`;
  if (!Number.isFinite(x.at) || x.at > now) return `at ${x.at} is not a past time`;
  for (const [k, v] of [
    ['registerBefore', x.registerBefore],
    ['registerAfter', x.registerAfter],
  ] as const) {
    if (!Number.isFinite(v) || v < 0) return `${k} ${v} is not a finite number ≥ 0`;
  }
  if (x.kind === 'exchange' && !x.newSerial?.trim()) return 'an exchange needs the new meter’s serial number';
  if (!x.note?.trim()) return 'a note saying who exchanged the meter and why is needed';
  return undefined;
}
