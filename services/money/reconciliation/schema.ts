import { appendOnlyTriggers } from '../../platform/db.ts';

/**
 * Reconciliation tables, all append-only: finance's records and the inspection list are corrected
 * by a further (reversing) record, a report by a new version; explanations and signatures are rows
 * naming who and when.
 */
const fen = (col: string) => `${col} INTEGER NOT NULL CHECK (typeof(${col}) = 'integer')`;

const tables: [string, string, readonly string[]][] = [
  [
    'recon_finance_records',
    `id INTEGER PRIMARY KEY, half TEXT NOT NULL, method TEXT NOT NULL CHECK (method IN ('cash', 'card', 'transfer')),
     ${fen('amount_fen')}, reference TEXT NOT NULL, note TEXT, entered_by TEXT NOT NULL, entered_at INTEGER NOT NULL`,
    ['id'],
  ],
  [
    'recon_inspection_items',
    `id INTEGER PRIMARY KEY, half TEXT NOT NULL, notice TEXT NOT NULL, ${fen('amount_fen')}, note TEXT,
     entered_by TEXT NOT NULL, entered_at INTEGER NOT NULL`,
    ['id'],
  ],
  [
    'recon_reports',
    `id INTEGER PRIMARY KEY, half TEXT NOT NULL, version INTEGER NOT NULL, prepared_by TEXT NOT NULL,
     prepared_at INTEGER NOT NULL, reason TEXT, figures TEXT NOT NULL, digest TEXT NOT NULL, UNIQUE (half, version)`,
    ['id'],
  ],
  [
    'recon_explanations',
    `report INTEGER NOT NULL REFERENCES recon_reports (id), key TEXT NOT NULL, text TEXT NOT NULL,
     explained_by TEXT NOT NULL, explained_at INTEGER NOT NULL, PRIMARY KEY (report, key)`,
    ['report', 'key'],
  ],
  [
    'recon_signatures',
    `report INTEGER NOT NULL REFERENCES recon_reports (id),
     step TEXT NOT NULL CHECK (step IN ('clerk', 'assistant', 'supervisor')), signed_by TEXT NOT NULL,
     signed_at INTEGER NOT NULL, PRIMARY KEY (report, step)`,
    ['report', 'step'],
  ],
];

export const RECONCILIATION_SCHEMA = tables
  .map(
    ([name, cols, key]) =>
      `CREATE TABLE IF NOT EXISTS ${name} (${cols});\n${appendOnlyTriggers(name, `${name} is append-only`, name, key)}`,
  )
  .join('\n');
