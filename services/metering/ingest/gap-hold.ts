import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { RetentionHold } from '../storage.ts';

/**
 * The meters with a gap ingest is still filling (seq-gaps.ts: a mark whose `done` is behind
 * `seen`), read from its ledger file. The missing readings' timestamps are unknown until they
 * arrive, and a replayed reading of a closed day is merged into that day's raw chunk, so the
 * whole meter is held while the gap is open: at most the replay window (ingest.replay.giveUpAfter,
 * 7 days by default), after which the range is declared lost and the hold goes.
 *
 * No ledger file: ingest has never run with this data directory, so it follows no gap here.
 */
export function openGapHolds(ledgerPath: string): RetentionHold[] {
  if (!existsSync(ledgerPath)) return [];
  const db = new Database(ledgerPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT meter FROM marks WHERE done < seen ORDER BY meter').all() as {
      meter: string;
    }[];
    return rows.map((r) => ({ reason: 'gap-open', meter: r.meter, from: 0 }));
  } finally {
    db.close();
  }
}
