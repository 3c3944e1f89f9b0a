import type { Actor } from '../../platform/auth/roles.ts';
import { hasTariff, type CustomerType } from '../billing/tariffs.ts';
import type { PrepaidContext } from './context.ts';
import { assertCan, assertNotSelfApproval } from './duties.ts';
import { OpenAccountSchema, parse, refuse, type OpenAccountInput } from './inputs.ts';
import { balance } from './ledger.ts';
import type { PrepaidAccount } from './types.ts';

/** Prepaid accounts: opening, the supervisor's check of the tariff type, and reading them. */

export interface AccountRow {
  id: string;
  customer_type: CustomerType;
  holder: string;
  payroll_code: string | null;
  protected: number;
  occupants: number | null;
  tariff_status: 'unverified' | 'verified';
  opened_by: string;
  opened_at: number;
  verified_by: string | null;
  verified_at: number | null;
}

/** Opens an account with its tariff type UNVERIFIED: nothing can be sold until a supervisor verifies it. */
export function openAccount(ctx: PrepaidContext, by: Actor, input: OpenAccountInput): PrepaidAccount {
  assertCan(by, 'accounts.open');
  const a = parse(OpenAccountSchema, input);
  return ctx.tx(() => {
    if (accountRow(ctx, a.id)) refuse('ACCOUNT_EXISTS', `account ${a.id} is already open`);
    const meters = [...new Set(a.meters)];
    for (const m of meters) {
      const owner = ctx.db.prepare('SELECT account_id FROM prepaid_account_meters WHERE meter = ?').get(m) as
        { account_id: string } | undefined;
      if (owner) refuse('METER_ALREADY_ASSIGNED', `meter ${m} belongs to account ${owner.account_id}`);
    }
    ctx.db
      .prepare(
        `INSERT INTO prepaid_accounts (id, customer_type, holder, payroll_code, protected, occupants,
           tariff_status, opened_by, opened_at) VALUES (?, ?, ?, ?, ?, ?, 'unverified', ?, ?)`,
      )
      .run(
        a.id,
        a.customerType,
        a.holder,
        a.payrollCode ?? null,
        a.protected ? 1 : 0,
        a.occupants ?? null,
        by.id,
        ctx.clock(),
      );
    const addMeter = ctx.db.prepare('INSERT INTO prepaid_account_meters (meter, account_id) VALUES (?, ?)');
    for (const m of meters) addMeter.run(m, a.id);
    const account = accountView(ctx, a.id);
    ctx.audit.append({ actor: by.id, action: 'account.open', subject: `account:${a.id}`, after: account });
    return account;
  });
}

/** A supervisor other than the opener confirms the account's customer (tariff) type. */
export function verifyTariffType(ctx: PrepaidContext, by: Actor, id: string): PrepaidAccount {
  assertCan(by, 'accounts.verify-tariff');
  return ctx.tx(() => {
    const row = requireAccount(ctx, id);
    assertNotSelfApproval(row.opened_by, by, 'approve it', { db: ctx.db, now: ctx.clock() });
    if (row.tariff_status === 'verified')
      refuse('TARIFF_TYPE_ALREADY_VERIFIED', `account ${id} is already verified`);
    if (!hasTariff(ctx.tariffs, 'electricity', row.customer_type, ctx.clock())) {
      refuse('NO_TARIFF', `no electricity tariff is in force for ${row.customer_type}`);
    }
    const before = accountView(ctx, id);
    ctx.db
      .prepare(
        `UPDATE prepaid_accounts SET tariff_status = 'verified', verified_by = ?, verified_at = ? WHERE id = ?`,
      )
      .run(by.id, ctx.clock(), id);
    const after = accountView(ctx, id);
    ctx.audit.append({
      actor: by.id,
      action: 'account.verify-tariff',
      subject: `account:${id}`,
      before: { tariffType: before.tariffType, customerType: before.customerType },
      after: { tariffType: after.tariffType, customerType: after.customerType },
    });
    return after;
  });
}

/** Ids of the accounts whose tariff type is verified: the only ones that are debited and sold to. */
export function verifiedAccounts(ctx: PrepaidContext): string[] {
  return (
    ctx.db.prepare("SELECT id FROM prepaid_accounts WHERE tariff_status = 'verified' ORDER BY id").all() as {
      id: string;
    }[]
  ).map((r) => r.id);
}

export function accountView(ctx: PrepaidContext, id: string): PrepaidAccount {
  const r = requireAccount(ctx, id);
  const meters = (
    ctx.db
      .prepare('SELECT meter FROM prepaid_account_meters WHERE account_id = ? ORDER BY meter')
      .all(id) as {
      meter: string;
    }[]
  ).map((m) => m.meter);
  return {
    id: r.id,
    customerType: r.customer_type,
    holder: r.holder,
    meters,
    payrollCode: r.payroll_code,
    protected: r.protected === 1,
    occupants: r.occupants,
    tariffType: r.tariff_status,
    openedBy: r.opened_by,
    openedAt: r.opened_at,
    verifiedBy: r.verified_by,
    verifiedAt: r.verified_at,
    balanceFen: balance(ctx, id),
  };
}

export function accountRow(ctx: PrepaidContext, id: string): AccountRow | undefined {
  return ctx.db.prepare('SELECT * FROM prepaid_accounts WHERE id = ?').get(id) as AccountRow | undefined;
}

export function requireAccount(ctx: PrepaidContext, id: string): AccountRow {
  const r = accountRow(ctx, id);
  if (!r) refuse('ACCOUNT_NOT_FOUND', `no prepaid account ${id}`);
  return r;
}

export function requireVerified(ctx: PrepaidContext, id: string): AccountRow {
  const r = requireAccount(ctx, id);
  if (r.tariff_status !== 'verified') {
    refuse('TARIFF_TYPE_UNVERIFIED', `account ${id} (${r.customer_type}) has no verified tariff type yet`);
  }
  return r;
}

export function requireMeterOf(ctx: PrepaidContext, account: string, meter: string): void {
  const r = ctx.db.prepare('SELECT account_id FROM prepaid_account_meters WHERE meter = ?').get(meter) as
    { account_id: string } | undefined;
  if (r?.account_id !== account)
    refuse('METER_NOT_ON_ACCOUNT', `meter ${meter} is not on account ${account}`);
}
