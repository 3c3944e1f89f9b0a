import { appendOnlyTriggers } from '../../platform/db.ts';

/**
 * The collection tables in the back-office database. Every table is append-only: a decision, a
 * confirmation or a payment is a new row naming who and when, never an edit of an earlier one, so
 * the state of a fee table or a notice is always recomputed from its rows. Amounts are SQLite
 * INTEGERs of fen (a CHECK refuses a REAL).
 */

const fen = (col: string, nullable = false) =>
  `${col} INTEGER ${nullable ? '' : 'NOT NULL '}CHECK (${nullable ? `${col} IS NULL OR ` : ''}typeof(${col}) = 'integer')`;

const tables: [string, string, readonly string[] | null][] = [
  [
    'fee_tables',
    `id TEXT PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, period_label TEXT NOT NULL, from_ts INTEGER NOT NULL,
     to_ts INTEGER NOT NULL, published_by TEXT NOT NULL, published_at INTEGER NOT NULL,
     objections_until INTEGER NOT NULL, due_days INTEGER NOT NULL, penalty_rule TEXT NOT NULL`,
    ['id'],
  ],
  [
    'fee_table_accounts',
    `fee_table TEXT NOT NULL REFERENCES fee_tables (id), account TEXT NOT NULL, holder TEXT NOT NULL,
     payroll_code TEXT, ${fen('billed_fen')}, blocked_meters TEXT NOT NULL, PRIMARY KEY (fee_table, account)`,
    ['fee_table', 'account'],
  ],
  [
    'fee_table_confirmations',
    `fee_table TEXT PRIMARY KEY REFERENCES fee_tables (id), confirmed_by TEXT NOT NULL, confirmed_at INTEGER NOT NULL`,
    ['fee_table'],
  ],
  [
    'fee_objections',
    `id INTEGER PRIMARY KEY, fee_table TEXT NOT NULL REFERENCES fee_tables (id), account TEXT NOT NULL,
     text TEXT NOT NULL, recorded_by TEXT NOT NULL, recorded_at INTEGER NOT NULL`,
    ['id'],
  ],
  [
    'fee_objection_decisions',
    `objection INTEGER PRIMARY KEY REFERENCES fee_objections (id),
     outcome TEXT NOT NULL CHECK (outcome IN ('upheld', 'dismissed')), ${fen('amount_fen', true)},
     reason TEXT NOT NULL, decided_by TEXT NOT NULL, decided_at INTEGER NOT NULL`,
    ['objection'],
  ],
  [
    'payment_notices',
    `id INTEGER PRIMARY KEY, number TEXT NOT NULL UNIQUE, fee_table TEXT NOT NULL REFERENCES fee_tables (id),
     account TEXT NOT NULL, holder TEXT NOT NULL, period_label TEXT NOT NULL, ${fen('fee_fen')},
     issued_by TEXT NOT NULL, issued_at INTEGER NOT NULL, due_at INTEGER NOT NULL, penalty_rule TEXT NOT NULL,
     UNIQUE (fee_table, account)`,
    ['id'],
  ],
  [
    'payroll_deductions',
    `fee_table TEXT NOT NULL REFERENCES fee_tables (id), account TEXT NOT NULL, holder TEXT NOT NULL,
     payroll_code TEXT NOT NULL, ${fen('fee_fen')}, ${fen('credit_fen')}, ${fen('deduct_fen')},
     PRIMARY KEY (fee_table, account)`,
    ['fee_table', 'account'],
  ],
  [
    'collection_payments',
    `id INTEGER PRIMARY KEY, notice INTEGER NOT NULL REFERENCES payment_notices (id), account TEXT NOT NULL,
     at INTEGER NOT NULL, method TEXT NOT NULL CHECK (method IN ('cash', 'card', 'transfer', 'credit')),
     ${fen('amount_fen')} CHECK (amount_fen > 0), ${fen('principal_fen')}, ${fen('penalty_fen')}, ${fen('credit_fen')},
     reference TEXT, recorded_by TEXT NOT NULL`,
    ['id'],
  ],
  [
    'payment_reversals',
    `id INTEGER PRIMARY KEY, payment INTEGER NOT NULL REFERENCES collection_payments (id), reason TEXT NOT NULL,
     requested_by TEXT NOT NULL, requested_at INTEGER NOT NULL`,
    ['id'],
  ],
  [
    'payment_reversal_decisions',
    `reversal INTEGER PRIMARY KEY REFERENCES payment_reversals (id),
     outcome TEXT NOT NULL CHECK (outcome IN ('approved', 'rejected')), reason TEXT,
     decided_by TEXT NOT NULL, decided_at INTEGER NOT NULL`,
    ['reversal'],
  ],
  [
    'collection_credits',
    `id INTEGER PRIMARY KEY, account TEXT NOT NULL, at INTEGER NOT NULL, ${fen('amount_fen')},
     payment INTEGER REFERENCES collection_payments (id), notice INTEGER REFERENCES payment_notices (id),
     fee_table TEXT, why TEXT NOT NULL, recorded_by TEXT NOT NULL`,
    ['id'],
  ],
  [
    'collection_reminders',
    `id INTEGER PRIMARY KEY, notice INTEGER NOT NULL REFERENCES payment_notices (id), at INTEGER NOT NULL,
     channel TEXT NOT NULL, note TEXT, recorded_by TEXT NOT NULL`,
    ['id'],
  ],
  [
    'penalty_waivers',
    `id INTEGER PRIMARY KEY, notice INTEGER NOT NULL REFERENCES payment_notices (id), ${fen('amount_fen')},
     reason TEXT NOT NULL, requested_by TEXT NOT NULL, requested_at INTEGER NOT NULL`,
    ['id'],
  ],
  [
    'penalty_waiver_decisions',
    `waiver INTEGER PRIMARY KEY REFERENCES penalty_waivers (id),
     outcome TEXT NOT NULL CHECK (outcome IN ('approved', 'rejected')), reason TEXT,
     decided_by TEXT NOT NULL, decided_at INTEGER NOT NULL`,
    ['waiver'],
  ],
];

export const COLLECTION_SCHEMA =
  tables
    .map(
      ([name, cols, key]) =>
        `CREATE TABLE IF NOT EXISTS ${name} (${cols});\n${appendOnlyTriggers(name, `${name} is append-only`, name, key)}`,
    )
    .join('\n') +
  `
CREATE INDEX IF NOT EXISTS collection_payments_notice ON collection_payments (notice, id);
CREATE INDEX IF NOT EXISTS collection_payments_at ON collection_payments (at);
CREATE UNIQUE INDEX IF NOT EXISTS collection_payments_reference
  ON collection_payments (method, lower(reference)) WHERE reference IS NOT NULL;
CREATE INDEX IF NOT EXISTS collection_credits_account ON collection_credits (account, id);
CREATE INDEX IF NOT EXISTS payment_notices_account ON payment_notices (account, id);
`;
