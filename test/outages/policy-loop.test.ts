import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { createPolicyLoop, type PolicyLoop } from '../../services/backoffice/policy-loop.ts';
import { RelayControl } from '../../services/operations/control/relay-control.ts';
import { Prepaid } from '../../services/money/prepaid/prepaid.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { testLogger } from '../helpers/logger.ts';
import { testKeys } from '../control/support.ts';
import { clerk, supervisor as prepaidSupervisor, tariffs } from '../prepaid/support.ts';
import { HOUR, operator, setup, supervisor, T0 } from './support.ts';

/**
 * The prepaid policy loop and a planned outage: an account out of credit in a building whose
 * supply is off on purpose is neither cut nor restored during the outage (the relay would be
 * switched on a dead line, and a restore by the policy would race the crew); once the outage has
 * settled the loop does what the balance calls for. Real policy loop, relay control, prepaid
 * accounts and SQLite reading store; only the clock is moved.
 */

let loop: PolicyLoop | undefined;
let store: SqliteStore | undefined;
afterEach(async () => {
  await loop?.stop();
  await store?.close();
});

/** E-E1-101 and E-E2-101 drawing 0.5 kW, read hourly from two days before T0 to `until`. */
function readings(until: number): StoredReading[] {
  const out: StoredReading[] = [];
  for (const meter of ['E-E1-101', 'E-E2-101'])
    for (let ts = T0 - 48 * HOUR, seq = 0; ts <= until; ts += HOUR, seq++)
      out.push({
        ...{ meter, ts, seq, quality: 'good', site: 'east', gateway: 'gw1', kind: 'electricity' },
        values: { energy_import_kwh: 1000 + (0.5 * (ts - T0)) / HOUR, relay_closed: 1, power_kw: 0.5 },
      });
  return out;
}

describe('prepaid policy during a planned outage', () => {
  it('neither cuts nor restores a meter downstream of the outage until it has settled; a meter outside is cut', async () => {
    const s = setup({ settleMinutes: 30 });
    const prepaid = new Prepaid({ db: s.db, audit: s.audit, tariffs, clock: s.clock });
    const control = new RelayControl({
      ...{ db: s.db, audit: s.audit, clock: s.clock, signingKey: testKeys().privateKey },
      ackKeys: () => undefined,
      locate: (m) => (m.startsWith('E-') ? { site: 'east', gateway: 'gw1', hasRelay: true } : undefined),
      send: async () => undefined,
    });
    for (const [id, meter] of [
      ['R-E1-101', 'E-E1-101'],
      ['R-E2-101', 'E-E2-101'],
    ] as const) {
      prepaid.openAccount(clerk, { id, customerType: 'student-room', holder: id, meters: [meter] });
      prepaid.verifyTariffType(prepaidSupervisor, id);
    }
    // Planned on T0 for T0 + 48 h .. + 52 h, approved by another person.
    const o = s.outages.plan(operator, {
      ...{ utility: 'electricity', node: 'E-E1-MAIN', reason: 'Busbar' },
      ...{ startsAt: T0 + 48 * HOUR, endsAt: T0 + 52 * HOUR },
    });
    s.outages.approve(supervisor, o.id);
    store = SqliteStore.open({ path: ':memory:' });
    await store.writeReadings(readings(T0 + 60 * HOUR));
    loop = createPolicyLoop({
      ...{ prepaid, control, audit: s.audit, store, logger: testLogger(), timezone: tariffs.timezone },
      hasRelay: (m) => m.startsWith('E-'),
      clock: s.clock,
      intervalMs: 3_600_000,
      plannedOutage: (m, now) => s.outages.outageOf(m, now)?.id,
    });

    // Wednesday 10:00 local, inside the window: both accounts have used two days on no credit.
    s.time.now = T0 + 50 * HOUR;
    await loop.runOnce();
    expect(control.list().map((r) => [r.meter, r.action])).toEqual([['E-E2-101', 'open']]);

    // Settled: the room in the outage's building is judged as any other.
    s.time.now = T0 + 52 * HOUR + 31 * 60_000;
    await loop.runOnce();
    expect(
      control
        .list()
        .map((r) => [r.meter, r.action])
        .sort(),
    ).toEqual([
      ['E-E1-101', 'open'],
      ['E-E2-101', 'open'],
    ]);
  });
});
