import type { BackofficeDb } from '../platform/db.ts';
import type { Installation } from './storage.ts';

/**
 * Approved exchanges and resets of post-paid meters, recorded without a prepaid account
 * (services/metering/vee/exchanges.ts): the same split of the history as a prepaid reset.
 */
function exchangesOf(db: BackofficeDb, meter: string) {
  const has = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meter_exchanges'")
    .get();
  if (!has) return [];
  return db
    .prepare(
      `SELECT at AS reset_at, register_before, register_after FROM meter_exchanges
        WHERE status = 'approved' AND meter = ? ORDER BY at`,
    )
    .all(meter) as { reset_at: number; register_before: number | null; register_after: number | null }[];
}

/**
 * A meter's history split at its approved meter resets and exchanges (prepaid or post-paid), as installation records: consumption
 * across a reset is then computed from the registers before and after it, never as a negative
 * jump. Read straight from the back-office database, so anything that computes consumption from
 * it (the prepaid ledger, VEE for bill runs, the billing CLI) sees the same resets. Empty for a
 * meter never reset, or a database prepaid has not used yet.
 */
export function resetInstallations(db: BackofficeDb, meter: string): Installation[] {
  const hasTable = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'prepaid_requests'")
    .get();
  type Reset = { reset_at: number; register_before: number | null; register_after: number | null };
  const resets = (
    hasTable
      ? (db
          .prepare(
            `SELECT reset_at, register_before, register_after FROM prepaid_requests
              WHERE kind = 'meter-reset' AND status = 'approved' AND meter = ? ORDER BY reset_at`,
          )
          .all(meter) as Reset[])
      : []
  ).concat(exchangesOf(db, meter));
  resets.sort((a, b) => a.reset_at - b.reset_at);
  if (resets.length === 0) return [];
  const out: Installation[] = [];
  let start = -8_640_000_000_000_000;
  let startRegister: number | undefined;
  resets.forEach((r, i) => {
    out.push({
      meter,
      serial: `${meter}#${i}`,
      installedAt: start,
      removedAt: r.reset_at,
      ...(startRegister !== undefined ? { startRegister } : {}),
      ...(r.register_before !== null ? { endRegister: r.register_before } : {}),
    });
    start = r.reset_at;
    startRegister = r.register_after ?? 0;
  });
  out.push({ meter, serial: `${meter}#${resets.length}`, installedAt: start, startRegister: startRegister! });
  return out;
}
