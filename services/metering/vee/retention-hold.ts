import type { BackofficeDb } from '../../platform/db.ts';
import type { RetentionHold } from '../storage.ts';

/**
 * The raw readings VEE has not validated yet: per meter VEE validates, everything after the end of
 * its last validated interval, taken over the quantity validated least far (a water meter's volume
 * may be validated to yesterday while its other register is a week behind). VEE validates on
 * demand (a bill run, the readings pages), so a meter it never looked at has nothing recorded and
 * no hold here: billing's hold covers the meters that are billed.
 */
export function veeHolds(db: BackofficeDb): RetentionHold[] {
  const rows = db
    .prepare(
      `SELECT meter, min(last) AS "from" FROM (
         SELECT meter, quantity, max("end") AS last FROM vee_interval_versions GROUP BY meter, quantity
       ) GROUP BY meter ORDER BY meter`,
    )
    .all() as { meter: string; from: number }[];
  return rows.map((r) => ({ reason: 'day-unvalidated', meter: r.meter, from: r.from }));
}
