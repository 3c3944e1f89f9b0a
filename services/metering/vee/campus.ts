import type { LoadedCampus } from '../../../config/campus.ts';
import { meterRegistry } from '../../../config/registry.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { resetInstallations } from '../installations.ts';
import type { ReadingStore } from '../storage.ts';
import { parseVeeConfig } from './config.ts';
import { Vee } from './service.ts';

/**
 * VEE as a campus runs it: over the campus's reading store with every raw reading (for the
 * timestamp rules), meter kinds from the campus file, approved meter resets from the back-office
 * database, versions and pins in that database. The back office and the billing CLI both use
 * this, so a bill run sees the same rules, resets and versions wherever it is started.
 */
export function campusVee(o: {
  campus: LoadedCampus;
  store: ReadingStore;
  db: BackofficeDb;
  audit: AuditLog;
  clock?: Clock;
}): Vee {
  const registry = meterRegistry(o.campus);
  return new Vee({
    store: o.store,
    raw: { readings: (meter, from, to) => o.store.readings(meter, from, to) },
    db: o.db,
    audit: o.audit,
    config: parseVeeConfig({}),
    timezone: o.campus.config.campus.timezone,
    kindOf: (meter) => registry.get(meter)?.kind,
    installations: (meter) => resetInstallations(o.db, meter),
    ...(o.clock ? { clock: o.clock } : {}),
  });
}
