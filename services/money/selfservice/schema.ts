/**
 * Customers' own sign-in, apart from staff users and sessions (no table, cookie or token is shared,
 * so a customer session can never be mistaken for a staff one). A sign-in belongs to one prepaid
 * account; the clerk issues a one-time code for it, the customer sets a password with the code.
 * Only hashes of codes, passwords and session tokens are stored.
 */
export const SELF_SERVICE_SCHEMA = `
CREATE TABLE IF NOT EXISTS customer_logins (
  username TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES prepaid_accounts (id),
  email TEXT,
  language TEXT NOT NULL DEFAULT 'zh' CHECK (language IN ('zh', 'en')),
  password_hash TEXT,
  code_hash TEXT,
  code_expires_at INTEGER,
  code_tries INTEGER NOT NULL DEFAULT 0,
  issued_by TEXT NOT NULL,
  issued_at INTEGER NOT NULL,
  failures INTEGER NOT NULL DEFAULT 0,
  last_failure_at INTEGER,
  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
);
CREATE INDEX IF NOT EXISTS customer_logins_account ON customer_logins (account_id);
CREATE TABLE IF NOT EXISTS customer_sessions (
  token_hash TEXT PRIMARY KEY,
  username TEXT NOT NULL REFERENCES customer_logins (username),
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  ip TEXT
);
CREATE INDEX IF NOT EXISTS customer_sessions_username ON customer_sessions (username);
`;
