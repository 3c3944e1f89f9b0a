import { appendOnlyTriggers } from '../../platform/db.ts';

/**
 * The payments tables. An order is ours (our order number) and is paid at most once:
 * payment_credits holds each provider transaction once (its primary key) and each order once
 * (UNIQUE), and is written in the same transaction as the ledger entry it books, so a crash leaves
 * both or neither. Every notice received, believed or not, is a row of provider_notices; both are
 * append-only. Reconciliation mismatches wait in the clerk's queue until resolved with a note.
 */
export const PAYMENTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS payment_orders (
  order_no TEXT PRIMARY KEY,
  provider TEXT NOT NULL,
  account_id TEXT NOT NULL REFERENCES prepaid_accounts (id),
  amount_fen INTEGER NOT NULL CHECK (typeof(amount_fen) = 'integer' AND amount_fen > 0),
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  provider_order_no TEXT,
  pay_url TEXT,
  closed_at INTEGER,
  closed_reason TEXT
);
CREATE INDEX IF NOT EXISTS payment_orders_account ON payment_orders (account_id, created_at);
CREATE TABLE IF NOT EXISTS payment_credits (
  provider TEXT NOT NULL,
  transaction_id TEXT NOT NULL,
  order_no TEXT NOT NULL UNIQUE REFERENCES payment_orders (order_no),
  amount_fen INTEGER NOT NULL CHECK (typeof(amount_fen) = 'integer'),
  paid_at INTEGER NOT NULL,
  credited_at INTEGER NOT NULL,
  via TEXT NOT NULL CHECK (via IN ('notice', 'query')),
  ledger_id INTEGER NOT NULL UNIQUE REFERENCES prepaid_ledger (id),
  PRIMARY KEY (provider, transaction_id)
);
${appendOnlyTriggers('payment_credits', 'a payment credit is booked once and stays', 'payment_credits', ['provider', 'transaction_id'])}
CREATE TABLE IF NOT EXISTS provider_notices (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  provider TEXT NOT NULL,
  nonce TEXT,
  body_sha256 TEXT NOT NULL,
  order_no TEXT,
  transaction_id TEXT,
  outcome TEXT NOT NULL CHECK (outcome IN ('credited', 'duplicate', 'refused')),
  code TEXT,
  detail TEXT,
  ip TEXT
);
CREATE INDEX IF NOT EXISTS provider_notices_nonce ON provider_notices (provider, nonce);
${appendOnlyTriggers('provider_notices', 'the record of notices received is append-only', 'provider_notices')}
CREATE TABLE IF NOT EXISTS payment_reconciliations (
  id INTEGER PRIMARY KEY,
  provider TEXT NOT NULL,
  date TEXT NOT NULL,
  run_at INTEGER NOT NULL,
  run_by TEXT NOT NULL,
  statement_lines INTEGER NOT NULL,
  ledger_lines INTEGER NOT NULL,
  mismatches INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS payment_mismatches (
  id INTEGER PRIMARY KEY,
  provider TEXT NOT NULL,
  date TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('missing', 'extra', 'amount', 'second-payment')),
  transaction_id TEXT NOT NULL,
  order_no TEXT,
  account_id TEXT,
  statement_fen INTEGER,
  ledger_fen INTEGER,
  found_at INTEGER NOT NULL,
  resolved_by TEXT,
  resolved_at INTEGER,
  note TEXT,
  UNIQUE (provider, kind, transaction_id)
);
`;
