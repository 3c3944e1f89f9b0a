import type { LoadedCampus } from '../../../config/campus.ts';
import { meterRegistry } from '../../../config/registry.ts';
import { pointRollover } from '../../../config/schemas/profile.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { resetInstallations } from '../installations.ts';
import type { CumulativeQuantity, Installation, ReadingStore } from '../storage.ts';
import { parseVeeConfig } from './config.ts';
import { Vee } from './service.ts';

/** The earliest instant a Date can hold: an installation "since always". */
const SINCE_ALWAYS = -8_640_000_000_000_000;

/**
 * Where each meter's cumulative registers wrap, from the campus file: the meter's own rolloverAt,
 * else its profile's point for the quantity (a number, or the integer register's width). A meter
 * with neither is absent for that quantity: its register is taken never to wrap, so a fall is a
 * decrease for VEE to judge, never silently a wrap.
 */
export function registerRollovers(
  campus: LoadedCampus,
): (meter: string, q: CumulativeQuantity) => number | undefined {
  const byMeter = new Map<string, { own?: number; profile?: string }>();
  for (const site of campus.config.sites) {
    for (const gateway of site.gateways) {
      for (const bus of gateway.buses) {
        for (const m of bus.meters) byMeter.set(m.id, { own: m.rolloverAt, profile: m.profile });
      }
      for (const device of gateway.opcua) {
        for (const m of device.meters) byMeter.set(m.id, { own: m.rolloverAt });
      }
    }
  }
  return (meter, q) => {
    const m = byMeter.get(meter);
    if (!m) return undefined;
    if (m.own !== undefined) return m.own;
    const point = m.profile
      ? campus.profiles.get(m.profile)?.points.find((p) => p.quantity === q)
      : undefined;
    return point ? pointRollover(point) : undefined;
  };
}

/**
 * A meter's installations with the register maximum attached: its recorded resets and exchanges
 * (services/metering/installations.ts), or one installation since always when there are none.
 */
export function withRollover(
  own: readonly Installation[],
  meter: string,
  rolloverAt: number | undefined,
): Installation[] {
  if (rolloverAt === undefined) return [...own];
  if (own.length === 0) return [{ meter, serial: meter, installedAt: SINCE_ALWAYS, rolloverAt }];
  return own.map((i) => ({ ...i, rolloverAt: i.rolloverAt ?? rolloverAt }));
}

/**
 * VEE as a campus runs it: over the campus's reading store with every raw reading (for the
 * timestamp rules), meter kinds and register maxima from the campus file and profiles, approved
 * meter resets from the back-office database, versions and pins in that database. The back office
 * and the billing CLI both use this, so a bill run sees the same rules, resets and versions
 * wherever it is started.
 */
export function campusVee(o: {
  campus: LoadedCampus;
  store: ReadingStore;
  db: BackofficeDb;
  audit: AuditLog;
  clock?: Clock;
}): Vee {
  const registry = meterRegistry(o.campus);
  const rollover = registerRollovers(o.campus);
  return new Vee({
    store: o.store,
    raw: { readings: (meter, from, to) => o.store.readings(meter, from, to) },
    db: o.db,
    audit: o.audit,
    config: parseVeeConfig({}),
    timezone: o.campus.config.campus.timezone,
    kindOf: (meter) => registry.get(meter)?.kind,
    installations: (meter, quantity) =>
      withRollover(resetInstallations(o.db, meter), meter, rollover(meter, quantity)),
    ...(o.clock ? { clock: o.clock } : {}),
  });
}
