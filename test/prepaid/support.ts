import { readFileSync } from 'node:fs';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { localTimeToUtc } from '../../services/metering/consumption/zone.ts';
import { parseTariffTable } from '../../services/money/billing/tariffs.ts';
import { Prepaid, type PrepaidOptions } from '../../services/money/prepaid/prepaid.ts';
import { expectRefusedUnchanged } from '../helpers/refused.ts';

export const TZ = 'Asia/Shanghai';
/** A local (Shanghai) time as UTC ms. */
export const local = (y: number, m: number, d: number, h = 0, min = 0): number =>
  localTimeToUtc(TZ, y, m, d, h, min);

export const tariffs = parseTariffTable(
  JSON.parse(
    readFileSync(new URL('../../services/money/billing/tariffs.example.json', import.meta.url), 'utf8'),
  ),
);

const user = (id: string, ...roles: Actor['roles']): Actor => ({ id, kind: 'user', roles });
export const clerk = user('clerk.wang', 'clerk');
export const clerk2 = user('clerk.liu', 'clerk');
export const supervisor = user('sup.li', 'supervisor');
export const supervisor2 = user('sup.zhao', 'supervisor');
/** Holds both roles: the two-person rules must still stop them approving their own work. */
export const lead = user('lead.zhou', 'clerk', 'supervisor');
export const reader = user('reader.chen', 'reader');
export const operator = user('op.sun', 'operator');
export const metering: Actor = { id: 'token:metering', kind: 'token', roles: ['billing'] };

export function setup(options: Partial<PrepaidOptions> = {}, start = local(2024, 9, 20, 10)) {
  const db = openBackofficeDb(':memory:');
  const time = { now: start };
  const clock = () => time.now;
  const audit = new AuditLog(db, clock);
  const prepaid = new Prepaid({ db, audit, tariffs, clock, ...options });
  return { db, audit, prepaid, time };
}

/** Opens an account and has a supervisor verify its tariff type. */
export function openVerified(
  prepaid: Prepaid,
  id: string,
  customerType: Parameters<Prepaid['openAccount']>[1]['customerType'] = 'student-room',
  extra: Partial<Parameters<Prepaid['openAccount']>[1]> = {},
) {
  prepaid.openAccount(clerk, {
    id,
    customerType,
    holder: `Holder of ${id}`,
    meters: [`m-${id}`],
    occupants: 4,
    ...extra,
  });
  return prepaid.verifyTariffType(supervisor, id);
}

/** What a refused operation must leave exactly as it was. */
export function snapshot(s: ReturnType<typeof setup>, account?: string) {
  return {
    audit: s.audit.head(),
    ledger: s.db
      .prepare('SELECT COUNT(*) AS n, COALESCE(SUM(amount_fen), 0) AS fen FROM prepaid_ledger')
      .get(),
    requests: s.db.prepare('SELECT * FROM prepaid_requests ORDER BY id').all(),
    balance: account ? s.prepaid.balance(account) : null,
  };
}

/** Expects `fn` to be refused with `code`, and to have changed nothing. */
export function expectRefused(
  s: ReturnType<typeof setup>,
  code: string,
  fn: () => unknown,
  account?: string,
) {
  return expectRefusedUnchanged(() => snapshot(s, account), code, fn);
}
