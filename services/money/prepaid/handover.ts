import type { Actor } from '../../platform/auth/roles.ts';
import type { PrepaidContext } from './context.ts';
import { assertCan, authFail } from './duties.ts';
import { HandoverSchema, parse } from './inputs.ts';
import { toEntry, type LedgerRow } from './ledger.ts';
import {
  ENTRY_TYPES,
  PAYMENT_METHODS,
  type EntryType,
  type HandoverReport,
  type HandoverTotals,
  type PaymentMethod,
} from './types.ts';

/** The shift handover report the clerk, the assistant and the supervisor sign. */

const emptyTotals = <K extends string>(keys: readonly K[]): Record<K, HandoverTotals> =>
  Object.fromEntries(keys.map((k) => [k, { count: 0, fen: 0 }])) as Record<K, HandoverTotals>;

/**
 * The shift's entries recorded by `clerk` in [from, to), with totals per payment method and
 * per entry type. The totals are computed twice, from the entries and by SQL over the ledger,
 * and must agree; printing is audited with the totals, so the signed paper can be checked later.
 * A clerk or operator prints their own report; a supervisor prints anyone's.
 */
export function handoverReport(
  ctx: PrepaidContext,
  by: Actor,
  input: { clerk: string; from: number; to: number },
): HandoverReport {
  assertCan(by, 'handover.report');
  const h = parse(HandoverSchema, input);
  if (h.clerk !== by.id && !by.roles.includes('supervisor')) {
    authFail('FORBIDDEN', `${by.id} may print only their own handover report`);
  }
  return ctx.tx(() => {
    const entries = (
      ctx.db
        .prepare('SELECT * FROM prepaid_ledger WHERE recorded_by = ? AND at >= ? AND at < ? ORDER BY id')
        .all(h.clerk, h.from, h.to) as LedgerRow[]
    ).map(toEntry);
    const byMethod = emptyTotals(PAYMENT_METHODS);
    const byType = emptyTotals(ENTRY_TYPES);
    let netFen = 0;
    for (const e of entries) {
      netFen += e.amountFen;
      byType[e.type].count++;
      byType[e.type].fen += e.amountFen;
      if (e.method) {
        byMethod[e.method].count++;
        byMethod[e.method].fen += e.amountFen;
      }
    }
    const sql = ctx.db
      .prepare(
        `SELECT type, method, COUNT(*) AS n, SUM(amount_fen) AS fen FROM prepaid_ledger
          WHERE recorded_by = ? AND at >= ? AND at < ? GROUP BY type, method`,
      )
      .all(h.clerk, h.from, h.to) as {
      type: EntryType;
      method: PaymentMethod | null;
      n: number;
      fen: number;
    }[];
    const check = { byMethod: emptyTotals(PAYMENT_METHODS), byType: emptyTotals(ENTRY_TYPES), net: 0 };
    for (const g of sql) {
      check.net += g.fen;
      check.byType[g.type].count += g.n;
      check.byType[g.type].fen += g.fen;
      if (g.method) {
        check.byMethod[g.method].count += g.n;
        check.byMethod[g.method].fen += g.fen;
      }
    }
    if (
      check.net !== netFen ||
      JSON.stringify(check.byMethod) !== JSON.stringify(byMethod) ||
      JSON.stringify(check.byType) !== JSON.stringify(byType)
    ) {
      throw new Error(`handover report for ${h.clerk} does not agree with the ledger`);
    }
    const report: HandoverReport = {
      clerk: h.clerk,
      from: h.from,
      to: h.to,
      printedBy: by.id,
      printedAt: ctx.clock(),
      entries,
      byMethod,
      byType,
      netFen,
      cashNetFen: byMethod.cash.fen,
    };
    ctx.audit.append({
      actor: by.id,
      action: 'handover.report',
      subject: `clerk:${h.clerk}`,
      after: {
        from: h.from,
        to: h.to,
        entries: entries.length,
        lastEntryId: entries[entries.length - 1]?.id ?? null,
        byMethod,
        byType,
        netFen,
      },
    });
    return report;
  });
}
