import type { Fen } from '../billing/money.ts';
import type { CustomerType } from '../billing/tariffs.ts';
import type { PrepaidContext } from './context.ts';
import { levelsFor } from './policy.ts';

/**
 * Finding accounts at the business office counter: one search box (account number, room, holder's
 * name or meter, any part of it, any letter case), and the lists a clerk works through: accounts
 * at or below their low-balance level, and accounts out of credit. The database filters and sums;
 * a page holds at most 200 accounts.
 */

/** Where a balance stands against its customer type's levels (policy.ts). */
export type BalanceLevel = 'ok' | 'low' | 'urgent' | 'out';

export interface AccountListing {
  id: string;
  holder: string;
  customerType: CustomerType;
  meters: string[];
  tariffType: 'unverified' | 'verified';
  balanceFen: Fen;
  level: BalanceLevel;
}

export interface AccountSearch {
  /** Any part of the account number, holder, or one of its meters; none: every account. */
  q?: string;
  /** `low`: at or below the first alarm level (out of credit included); `out`: at or below zero. */
  list?: 'low' | 'out';
  offset?: number;
  /** 1 to 200; 50 unless given. */
  limit?: number;
}

export interface AccountSearchPage {
  accounts: AccountListing[];
  total: number;
  offset: number;
  limit: number;
}

export const MAX_SEARCH_PAGE = 200;

interface Row {
  id: string;
  holder: string;
  customer_type: CustomerType;
  tariff_status: 'unverified' | 'verified';
  meters: string | null;
  balance: number;
}

export function levelOf(ctx: PrepaidContext, type: CustomerType, balance: Fen): BalanceLevel {
  if (balance <= 0) return 'out';
  const l = levelsFor(ctx.policy, type);
  if (balance <= l.alarm2Fen) return 'urgent';
  if (balance <= l.alarm1Fen) return 'low';
  return 'ok';
}

export function searchAccounts(ctx: PrepaidContext, q: AccountSearch = {}): AccountSearchPage {
  const text = q.q?.trim().toLowerCase() ?? '';
  // LIKE with an escape: a typed % or _ is a character, not a wildcard.
  const like = `%${text.replace(/[\\%_]/g, '\\$&')}%`;
  const rows = ctx.db
    .prepare(
      `SELECT a.id, a.holder, a.customer_type, a.tariff_status,
              (SELECT group_concat(meter, ' ') FROM prepaid_account_meters m WHERE m.account_id = a.id) AS meters,
              COALESCE((SELECT SUM(amount_fen) FROM prepaid_ledger l WHERE l.account_id = a.id), 0) AS balance
         FROM prepaid_accounts a
        WHERE ? = ''
           OR lower(a.id) LIKE ? ESCAPE '\\'
           OR lower(a.holder) LIKE ? ESCAPE '\\'
           OR EXISTS (SELECT 1 FROM prepaid_account_meters m
                       WHERE m.account_id = a.id AND lower(m.meter) LIKE ? ESCAPE '\\')
        ORDER BY a.id`,
    )
    .all(text, like, like, like) as Row[];
  const listed = rows
    .map((r): AccountListing => ({
      id: r.id,
      holder: r.holder,
      customerType: r.customer_type,
      meters: r.meters ? r.meters.split(' ').sort() : [],
      tariffType: r.tariff_status,
      balanceFen: r.balance,
      level: levelOf(ctx, r.customer_type, r.balance),
    }))
    .filter((a) => (q.list === 'out' ? a.level === 'out' : q.list === 'low' ? a.level !== 'ok' : true));
  // The lists put the most urgent first: lowest balance, then account number.
  if (q.list) listed.sort((a, b) => a.balanceFen - b.balanceFen || (a.id < b.id ? -1 : 1));
  const limit = Math.min(Math.max(1, Math.trunc(q.limit ?? 50)), MAX_SEARCH_PAGE);
  const offset = Math.max(0, Math.trunc(q.offset ?? 0));
  return { accounts: listed.slice(offset, offset + limit), total: listed.length, offset, limit };
}
