import { describe, expect, it } from 'vitest';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import {
  ManualReadings,
  type ManualReadingAlert,
  type ReadingRoute,
} from '../../services/metering/readings/manual.ts';
import { seededRandom } from '../../services/platform/seeded-random.ts';
import { withAdmin } from '../auth/setup.ts';
import { backoffice, local, MemoryValidatedSource } from '../billing/support.ts';

const reader = (id: string): Actor => ({ id, kind: 'user', roles: ['reader'] });
const POOL = ['reader.chen', 'reader.liu', 'reader.zhao', 'reader.sun', 'reader.ma'];

const routes: ReadingRoute[] = [
  {
    id: 'west-staff-houses',
    meters: [
      { meter: 'E-W-H-7', quantity: 'energy_import_kwh' },
      { meter: 'W-W-H-7', quantity: 'volume_m3' },
    ],
  },
  { id: 'vendor-laundry', meters: [{ meter: 'W-LAUNDRY', quantity: 'volume_m3' }] },
];

const READ_AT = local(2026, 11, 30, 10);

function setup(seed = 42) {
  const bo = backoffice();
  // The automatic register of E-W-H-7 read 4521.3 kWh at 10:00; W-LAUNDRY has no automatic reading.
  const automatic = new MemoryValidatedSource().setRegister('E-W-H-7', 'energy_import_kwh', [
    [READ_AT - 3_600_000, 4520.3],
    [READ_AT, 4521.3],
  ]);
  const readings = new ManualReadings({ ...bo, routes, automatic, random: seededRandom(seed) });
  const hooked: ManualReadingAlert[] = [];
  readings.onAlert((a) => hooked.push(a));
  return { ...bo, readings, hooked };
}

async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return 'no error';
  } catch (e) {
    return e instanceof ServiceError ? e.code : String(e);
  }
}

describe('drawing readers', () => {
  it('draws two different readers at random, reproducibly with a seed, and audits the draw', () => {
    const a = setup(7).readings.drawRound({ route: 'west-staff-houses', dueAt: READ_AT, pool: POOL });
    const b = setup(7).readings.drawRound({ route: 'west-staff-houses', dueAt: READ_AT, pool: POOL });
    expect(a.readers).toEqual(b.readers);
    expect(new Set(a.readers.map((r) => r.toLowerCase())).size).toBe(2);
    const draws = new Set<string>();
    for (let seed = 0; seed < 40; seed++)
      draws.add(
        setup(seed)
          .readings.drawRound({ route: 'west-staff-houses', dueAt: READ_AT, pool: POOL })
          .readers.join(),
      );
    // Not always the same people: over 40 seeds many of the 20 ordered pairs come up.
    expect(draws.size).toBeGreaterThan(10);
    const s = setup();
    const round = s.readings.drawRound({ route: 'west-staff-houses', dueAt: READ_AT, pool: POOL });
    expect(s.audit.query({ subject: `reading-round:${round.id}` })[0]).toMatchObject({
      actor: 'system:manual-readings',
      action: 'readings.round-draw',
    });
  });

  it('rotates: nobody reads the same route in consecutive rounds while the pool allows', () => {
    const { readings } = setup(3);
    let previous: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = readings.drawRound({ route: 'west-staff-houses', dueAt: READ_AT + i, pool: POOL });
      expect(r.rotation).toBe('full');
      for (const p of r.readers) expect(previous).not.toContain(p);
      previous = [...r.readers];
    }
  });

  it('with three readers avoids the same pair; with two says the pair repeats', () => {
    const { readings } = setup(5);
    const three = ['a.reader', 'b.reader', 'c.reader'];
    let prev = '';
    for (let i = 0; i < 10; i++) {
      const r = readings.drawRound({ route: 'vendor-laundry', dueAt: i, pool: three });
      const pair = [...r.readers].sort().join();
      expect(r.rotation).toBe(i === 0 ? 'full' : 'pair-only');
      expect(pair).not.toBe(prev);
      prev = pair;
    }
    const two = setup(5).readings;
    two.drawRound({ route: 'vendor-laundry', dueAt: 0, pool: ['a.reader', 'b.reader'] });
    expect(
      two.drawRound({ route: 'vendor-laundry', dueAt: 1, pool: ['a.reader', 'b.reader'] }).rotation,
    ).toBe('none');
  });

  it('the same person cannot be both readers: a pool of one person (however spelt) is refused', async () => {
    const { readings } = setup();
    expect(
      await codeOf(() =>
        readings.drawRound({ route: 'vendor-laundry', dueAt: 0, pool: ['reader.chen', ' Reader.Chen '] }),
      ),
    ).toBe('POOL_TOO_SMALL');
  });
});

describe("a reader's rounds", () => {
  it('lists only the rounds the reader is drawn for, which meters they entered, never the other reading', async () => {
    const { readings } = setup();
    const round = readings.drawRound({ route: 'west-staff-houses', dueAt: READ_AT, pool: POOL });
    const [a, b] = round.readers;
    const outsider = POOL.find((p) => p !== a && p !== b)!;
    await readings.enter(reader(b), { round: round.id, meter: 'E-W-H-7', value: 4521.2, readAt: READ_AT });
    const mine = readings.roundsFor(a, READ_AT);
    expect(mine.map((r) => r.round.id)).toEqual([round.id]);
    expect(mine[0]!.meters).toEqual([
      { meter: 'E-W-H-7', quantity: 'energy_import_kwh', entered: false },
      { meter: 'W-W-H-7', quantity: 'volume_m3', entered: false },
    ]);
    expect(JSON.stringify(mine)).not.toContain('4521.2');
    expect(readings.roundsFor(b, READ_AT)[0]!.meters[0]!.entered).toBe(true);
    expect(readings.roundsFor(outsider, READ_AT)).toEqual([]);
    // Past due by more than a day: no longer listed.
    expect(readings.roundsFor(a, READ_AT + 2 * 86_400_000)).toEqual([]);
    expect(readings.routeList().map((r) => r.id)).toEqual(['west-staff-houses', 'vendor-laundry']);
  });
});

describe('entering readings', () => {
  it('two readers who disagree beyond tolerance raise an inspection alert with the evidence', async () => {
    const { readings, hooked, audit } = setup();
    const round = readings.drawRound({ route: 'vendor-laundry', dueAt: READ_AT, pool: POOL });
    const [a, b] = round.readers;
    const first = await readings.enter(reader(a), {
      round: round.id,
      meter: 'W-LAUNDRY',
      value: 8123.4,
      readAt: READ_AT,
    });
    expect(first.alerts).toEqual([]);
    // Tolerance: max(1 m³, 0.1 % of 8130.4) = 8.1304 m³; 7 m³ apart is within it, 9 is not.
    const second = await readings.enter(reader(b), {
      round: round.id,
      meter: 'W-LAUNDRY',
      value: 8132.4,
      readAt: READ_AT,
    });
    expect(second.alerts).toHaveLength(1);
    const alert = second.alerts[0]!;
    expect(alert).toMatchObject({
      type: 'manual-reading-mismatch',
      kind: 'readers-disagree',
      meter: 'W-LAUNDRY',
    });
    expect(alert.evidence.readings.map((r) => [r.reader, r.value])).toEqual([
      [a, 8123.4],
      [b, 8132.4],
    ]);
    expect(alert.evidence.difference).toBeCloseTo(9, 9);
    expect(alert.evidence.allowed).toBeCloseTo(8.1324, 9);
    expect(hooked).toEqual([alert]);
    expect(readings.alerts({ round: round.id })).toEqual([alert]);
    expect(audit.query({ action: 'readings.alert' })[0]!.subject).toBe(`manual-reading-alert:${alert.id}`);
  });

  it('a reading that differs from the automatic register at that time raises an alert even when the readers agree', async () => {
    const { readings } = setup();
    const round = readings.drawRound({ route: 'west-staff-houses', dueAt: READ_AT, pool: POOL });
    const [a, b] = round.readers;
    // Automatic register at 10:00: 4521.3 kWh; both readers write 4581.3 (a favour reading of 60 kWh less
    // used would be the other way round; any difference beyond max(1, 0.1 % × 4521.3) = 4.5213 counts).
    const r1 = await readings.enter(reader(a), {
      round: round.id,
      meter: 'E-W-H-7',
      value: 4581.3,
      readAt: READ_AT,
    });
    const r2 = await readings.enter(reader(b), {
      round: round.id,
      meter: 'E-W-H-7',
      value: 4581.3,
      readAt: READ_AT,
    });
    expect(r1.reading.automatic).toBe(4521.3);
    expect(r1.alerts.map((x) => x.kind)).toEqual(['differs-from-automatic']);
    expect(r2.alerts.map((x) => x.kind)).toEqual(['differs-from-automatic']);
    expect(r1.alerts[0]!.evidence).toMatchObject({ automatic: 4521.3, allowed: 4.5213 });
    expect(r1.alerts[0]!.evidence.difference).toBeCloseTo(60, 9);
    // Agreeing readings within tolerance of the automatic one raise nothing.
    const ok = await readings.enter(reader(a), {
      round: round.id,
      meter: 'W-W-H-7',
      value: 12.5,
      readAt: READ_AT,
    });
    expect(ok.alerts).toEqual([]);
  });

  it('only the two drawn readers enter, each once, under their own login', async () => {
    const { readings } = setup();
    const round = readings.drawRound({ route: 'vendor-laundry', dueAt: READ_AT, pool: POOL });
    const [a] = round.readers;
    const outsider = POOL.find((p) => !round.readers.includes(p))!;
    const enter = (who: Actor, meter = 'W-LAUNDRY') =>
      readings.enter(who, { round: round.id, meter, value: 1, readAt: READ_AT });
    expect(await codeOf(() => enter(reader(outsider)))).toBe('NOT_ASSIGNED');
    expect(await codeOf(() => enter(reader(a), 'E-W-H-7'))).toBe('UNKNOWN_METER');
    await enter(reader(a));
    // Reader A entering the second reading too (for B) is refused: the same person cannot be both.
    expect(await codeOf(() => enter(reader(a)))).toBe('ALREADY_ENTERED');
    expect(await codeOf(() => enter({ id: a.toUpperCase(), kind: 'user', roles: ['reader'] }))).toBe(
      'ALREADY_ENTERED',
    );
    expect(await codeOf(() => enter({ id: 'sup.li', kind: 'user', roles: ['supervisor'] }))).toBe(
      'FORBIDDEN',
    );
    expect(
      await codeOf(() =>
        enter({ id: `token:${a}`, kind: 'token', roles: ['reader'], scopes: ['readings.enter-manual'] }),
      ),
    ).toBe('PERSON_REQUIRED');
    expect(readings.readings(round.id)).toHaveLength(1);
  });
});

describe('a reader never records payments', () => {
  it('a user cannot be created, or given roles, as both reader and clerk', async () => {
    const { users, admin } = await withAdmin();
    const input = { username: 'li.na', displayName: 'Li Na', password: 'correct horse battery' };
    expect(await codeOf(() => users.proposeUser(admin, { ...input, roles: ['reader', 'clerk'] }))).toBe(
      'INCOMPATIBLE_DUTIES',
    );
    await users.provisionUser({ ...input, roles: ['reader'] });
    expect(await codeOf(() => users.setRoles(admin, 'li.na', ['reader', 'clerk']))).toBe(
      'INCOMPATIBLE_DUTIES',
    );
  });

  it('an actor holding both roles (e.g. from an old database) cannot enter readings', async () => {
    const { readings } = setup();
    const round = readings.drawRound({ route: 'vendor-laundry', dueAt: READ_AT, pool: POOL });
    const both: Actor = { id: round.readers[0], kind: 'user', roles: ['reader', 'clerk'] };
    expect(
      await codeOf(() =>
        readings.enter(both, { round: round.id, meter: 'W-LAUNDRY', value: 1, readAt: READ_AT }),
      ),
    ).toBe('INCOMPATIBLE_DUTIES');
  });
});
