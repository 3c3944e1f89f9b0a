import type { AuditEntry } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb } from '../../platform/db.ts';
import type { NoticeFacts } from './messages.ts';

/**
 * Which audit entries are worth telling the customer, and what to tell: the notices follow what
 * the prepaid policy loop and relay control already record, so nothing they decide can go
 * unannounced and nothing is announced that they did not record.
 * - `prepaid.alarm` (level 1 or 2): low balance;
 * - `prepaid.cutoff-held`: the balance ran out, the cut waits for friendly hours to end;
 * - `relay.request` to open, raised by the prepaid policy: the cut-off is asked for, ahead of a
 *   supervisor's (or a standing) approval;
 * - `relay.ack` done for a restore the prepaid policy or a person asked for: supply restored
 *   (a schedule's morning power-on is not a restore and says nothing).
 */

const PREPAID_POLICY = 'system:prepaid-policy';

export function factsOf(db: BackofficeDb, e: AuditEntry): NoticeFacts | null {
  const after = (e.after ?? {}) as Record<string, unknown>;
  const accountOf = (subject: string) =>
    subject.startsWith('account:') ? subject.slice('account:'.length) : null;
  const balanceOf = (account: string) =>
    (
      db
        .prepare('SELECT COALESCE(SUM(amount_fen), 0) AS fen FROM prepaid_ledger WHERE account_id = ?')
        .get(account) as { fen: number }
    ).fen;
  const meterAccount = (meter: unknown) =>
    typeof meter === 'string'
      ? ((
          db.prepare('SELECT account_id FROM prepaid_account_meters WHERE meter = ?').get(meter) as
            { account_id: string } | undefined
        )?.account_id ?? null)
      : null;
  const base = { level: null, thresholdFen: null, held: null, at: e.at };
  switch (e.action) {
    case 'prepaid.alarm': {
      const account = accountOf(e.subject);
      if (!account) return null;
      return {
        ...base,
        account,
        kind: 'low-balance',
        level: Number(after.level),
        balanceFen: num(after.balanceFen),
        thresholdFen: num(after.thresholdFen),
      };
    }
    case 'prepaid.cutoff-held': {
      const account = accountOf(e.subject);
      if (!account) return null;
      return {
        ...base,
        account,
        kind: 'cutoff-ahead',
        balanceFen: num(after.balanceFen),
        held: String(after.hold ?? 'friendly hours'),
      };
    }
    case 'relay.request': {
      if (e.actor !== PREPAID_POLICY || after.action !== 'open') return null;
      const account = meterAccount(after.meter);
      return account ? { ...base, account, kind: 'cutoff-ahead', balanceFen: balanceOf(account) } : null;
    }
    case 'relay.ack': {
      if (after.state !== 'done') return null;
      const id = Number(e.subject.replace(/^relay-request:/, ''));
      const req = db
        .prepare('SELECT meter, action, source, requested_by FROM relay_requests WHERE id = ?')
        .get(id) as { meter: string; action: string; source: string; requested_by: string } | undefined;
      if (!req || req.action !== 'close' || (req.requested_by !== PREPAID_POLICY && req.source !== 'user'))
        return null;
      const account = meterAccount(req.meter);
      return account ? { ...base, account, kind: 'restored', balanceFen: balanceOf(account) } : null;
    }
    default:
      return null;
  }
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
