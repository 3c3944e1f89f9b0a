import { appendOnlyTriggers } from '../../platform/db.ts';

/**
 * The prepaid tables in the back-office database.
 *
 * The ledger is the only place money lives: a balance is the sum of an account's entries, never a
 * stored column that could drift. Entries are append-only (triggers refuse UPDATE and DELETE; a
 * mistake is put right by a correction entry) and every amount is an SQLite INTEGER of fen (a
 * CHECK refuses a REAL). Two partial unique indexes make the two double-counting mistakes
 * impossible: a metered interval debited twice, and one payment (method + reference) recorded twice;
 * prepaid_payment_references goes further and holds each top-up's reference once, compared without
 * regard to method, letter case or character width (its primary key), so that `PAY-0001` in cash
 * and `pay-0001` by card cannot both be booked.
 *
 * Requests that need a second person (refund, meter reset, free quota) live in prepaid_requests
 * until approved or rejected; approval books the ledger entry in the same transaction.
 */
export const PREPAID_SCHEMA = `
CREATE TABLE IF NOT EXISTS prepaid_accounts (
  id TEXT PRIMARY KEY,
  customer_type TEXT NOT NULL,
  holder TEXT NOT NULL,
  payroll_code TEXT,
  protected INTEGER NOT NULL CHECK (protected IN (0, 1)),
  occupants INTEGER,
  tariff_status TEXT NOT NULL CHECK (tariff_status IN ('unverified', 'verified')),
  opened_by TEXT NOT NULL,
  opened_at INTEGER NOT NULL,
  verified_by TEXT,
  verified_at INTEGER
);

CREATE TABLE IF NOT EXISTS prepaid_account_meters (
  meter TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES prepaid_accounts (id)
);
CREATE INDEX IF NOT EXISTS prepaid_account_meters_account ON prepaid_account_meters (account_id);

CREATE TABLE IF NOT EXISTS prepaid_ledger (
  id INTEGER PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES prepaid_accounts (id),
  at INTEGER NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('topup', 'free-quota', 'debit', 'refund', 'meter-reset', 'correction')),
  amount_fen INTEGER NOT NULL CHECK (typeof(amount_fen) = 'integer'),
  recorded_by TEXT NOT NULL,
  approved_by TEXT,
  method TEXT CHECK (method IN ('cash', 'card', 'transfer')),
  reference TEXT,
  reason TEXT,
  meter TEXT,
  interval_start INTEGER,
  interval_end INTEGER,
  quantity_milli INTEGER CHECK (quantity_milli IS NULL OR typeof(quantity_milli) = 'integer'),
  month TEXT,
  request_id INTEGER,
  detail TEXT
);
CREATE INDEX IF NOT EXISTS prepaid_ledger_account ON prepaid_ledger (account_id, id);
CREATE INDEX IF NOT EXISTS prepaid_ledger_recorded_by ON prepaid_ledger (recorded_by, at);
CREATE UNIQUE INDEX IF NOT EXISTS prepaid_ledger_debit_once
  ON prepaid_ledger (account_id, meter, interval_start, interval_end) WHERE type = 'debit';
CREATE UNIQUE INDEX IF NOT EXISTS prepaid_ledger_payment_once
  ON prepaid_ledger (method, reference) WHERE type = 'topup';
${appendOnlyTriggers('prepaid_ledger', 'the prepaid ledger is append-only: book a correction', 'prepaid_ledger', ['id'])}
CREATE TABLE IF NOT EXISTS prepaid_payment_references (
  key TEXT PRIMARY KEY,
  ledger_id INTEGER NOT NULL UNIQUE REFERENCES prepaid_ledger (id)
);
${appendOnlyTriggers('prepaid_payment_references', 'a payment reference, once filed, stays with its top-up', 'prepaid_payment_references')}
CREATE TABLE IF NOT EXISTS prepaid_requests (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('refund', 'meter-reset', 'free-quota')),
  account_id TEXT NOT NULL REFERENCES prepaid_accounts (id),
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
  requested_by TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  decided_by TEXT,
  decided_at INTEGER,
  decision_reason TEXT,
  reason TEXT,
  amount_fen INTEGER CHECK (amount_fen IS NULL OR typeof(amount_fen) = 'integer'),
  method TEXT,
  reference TEXT,
  meter TEXT,
  reset_at INTEGER,
  register_before REAL,
  register_after REAL,
  period TEXT,
  kwh_milli INTEGER,
  ledger_id INTEGER REFERENCES prepaid_ledger (id)
);
CREATE INDEX IF NOT EXISTS prepaid_requests_account ON prepaid_requests (account_id, id);
CREATE UNIQUE INDEX IF NOT EXISTS prepaid_requests_quota_once
  ON prepaid_requests (account_id, period) WHERE kind = 'free-quota' AND status <> 'rejected';
`;
