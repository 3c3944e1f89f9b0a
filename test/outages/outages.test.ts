import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import {
  clerk,
  expectRefused,
  HOUR,
  lead,
  operator,
  setup,
  supervisor,
  T0,
  waterSupervisor,
} from './support.ts';

const MIN = 60_000;
const window = { startsAt: T0 + 48 * HOUR, endsAt: T0 + 52 * HOUR };

describe('planning and approving an outage', () => {
  it('computes every building, room and account below the node, and publishes on a second person’s approval', () => {
    const s = setup();
    const o = s.outages.plan(operator, {
      utility: 'electricity',
      node: 'E-E1-MAIN',
      ...window,
      reason: 'Replace the busbar',
    });
    expect(o.state).toBe('planned');
    expect(o.publishedAt).toBeNull();
    expect(o.affected.buildings).toEqual([
      {
        id: 'E-E1-MAIN',
        name: 'Dorm E1 main',
        rooms: ['E-E1-101', 'E-E1-102', 'E-E1-201', 'E-E1-202'],
        accounts: ['ROOM-E1-101', 'PRE-E1-101', 'ROOM-E1-102', 'ROOM-E1-201', 'ROOM-E1-202'],
      },
    ]);
    expect(o.affected.meters).toHaveLength(5);
    expect(o.affected.accounts).toEqual([
      'PRE-E1-101',
      'ROOM-E1-101',
      'ROOM-E1-102',
      'ROOM-E1-201',
      'ROOM-E1-202',
    ]);

    // A substation reaches every building and customer fed from it, each building once.
    const sub = s.outages.plan(operator, {
      utility: 'electricity',
      node: 'E-E-SUB1-IN',
      ...window,
      reason: 'Annual test',
    });
    expect(sub.affected.buildings.map((b) => b.id)).toEqual([
      'E-E1-MAIN',
      'E-E2-MAIN',
      'E-E-TEACH-MAIN',
      'E-E-CANTEEN',
      'E-E-STAFF-MAIN',
      'E-E3-MAIN',
    ]);
    expect(sub.affected.accounts).toContain('BIZ-E-CANTEEN');
    // The heat meters of the households are another utility's tree: not in a power outage.
    expect(sub.affected.meters.some((m) => m.startsWith('H-'))).toBe(false);

    const a = s.outages.approve(supervisor, o.id, 'crew booked');
    expect(a.state).toBe('approved');
    expect(a.publishedAt).toBe(T0);
    const actions = s.audit.query({ subject: `outage:${o.id}` }).map((e) => [e.action, e.actor]);
    expect(actions).toEqual([
      ['outage.plan', 'op.zhao'],
      ['outage.approve', 'sup.li'],
    ]);
  });

  it('refuses the planner approving their own outage, a clerk, an unknown node, another utility’s node and bad windows', () => {
    const s = setup();
    const o = s.outages.plan(lead, {
      utility: 'electricity',
      node: 'E-E2-MAIN',
      ...window,
      reason: 'Cable work',
    });
    expectRefused(s.db, 'SELF_APPROVAL', () => s.outages.approve(lead, o.id));
    expectRefused(s.db, 'SELF_APPROVAL', () => s.outages.reject(lead, o.id, 'no'));
    expectRefused(s.db, 'FORBIDDEN', () => s.outages.approve(clerk, o.id));
    expectRefused(s.db, 'FORBIDDEN', () =>
      s.outages.plan(clerk, { utility: 'electricity', node: 'E-E2-MAIN', ...window, reason: 'x' }),
    );
    expectRefused(s.db, 'UNKNOWN_NODE', () =>
      s.outages.plan(operator, { utility: 'electricity', node: 'NOPE', ...window, reason: 'x' }),
    );
    expectRefused(s.db, 'UNKNOWN_NODE', () =>
      s.outages.plan(operator, { utility: 'water', node: 'E-E2-MAIN', ...window, reason: 'x' }),
    );
    expectRefused(s.db, 'INVALID_WINDOW', () =>
      s.outages.plan(operator, {
        utility: 'water',
        node: 'W-E-MASTER',
        startsAt: window.endsAt,
        endsAt: window.startsAt,
        reason: 'x',
      }),
    );
    // Less than a day's notice (the default minNoticeHours).
    expectRefused(s.db, 'INVALID_WINDOW', () =>
      s.outages.plan(operator, {
        utility: 'water',
        node: 'W-E-MASTER',
        startsAt: T0 + 2 * HOUR,
        endsAt: T0 + 3 * HOUR,
        reason: 'x',
      }),
    );
    expectRefused(s.db, 'INVALID_WINDOW', () =>
      s.outages.plan(operator, {
        utility: 'water',
        node: 'W-E-MASTER',
        startsAt: window.startsAt,
        endsAt: window.startsAt + 80 * HOUR,
        reason: 'x',
      }),
    );
    // Decided once: a second decision is refused.
    s.outages.reject(supervisor, o.id, 'clashes with exams');
    expectRefused(s.db, 'OUTAGE_STATE', () => s.outages.approve(supervisor, o.id));
  });

  it('lets only the supervisors the campus file names for the utility approve, and only while the notice can go out ahead', () => {
    const s = setup({ approvers: { water: ['sup.water'] } });
    const w = s.outages.plan(operator, { utility: 'water', node: 'W-E-MASTER', ...window, reason: 'Valve' });
    expectRefused(s.db, 'NOT_UTILITY_SUPERVISOR', () => s.outages.approve(supervisor, w.id));
    // Electricity names nobody: any supervisor.
    const e = s.outages.plan(operator, { utility: 'electricity', node: 'E-E2-MAIN', ...window, reason: 'x' });
    expect(s.outages.approve(supervisor, e.id).state).toBe('approved');
    // Left lying until the notice could no longer reach people a day ahead.
    s.time.now = window.startsAt - 23 * HOUR;
    expectRefused(s.db, 'NOTICE_TOO_LATE', () => s.outages.approve(waterSupervisor, w.id));
  });
});

describe('during the window', () => {
  function approved() {
    const s = setup({ settleMinutes: 30 });
    const o = s.outages.plan(operator, {
      utility: 'electricity',
      node: 'E-E1-MAIN',
      ...window,
      reason: 'Busbar',
    });
    s.outages.approve(supervisor, o.id);
    return { ...s, o };
  }

  it('marks the meters downstream, and only while the outage lasts and settles', () => {
    const s = approved();
    expect(s.outages.outageOf('E-E1-101', window.startsAt - 1)).toBeUndefined();
    expect(s.outages.outageOf('E-E1-101', window.startsAt)?.id).toBe(s.o.id);
    expect(s.outages.outageOf('E-E1-MAIN', window.endsAt + 29 * MIN)?.id).toBe(s.o.id);
    expect(s.outages.outageOf('E-E1-101', window.endsAt + 30 * MIN)).toBeUndefined();
    // A sibling building and the substation above are not downstream.
    expect(s.outages.outageOf('E-E2-101', window.startsAt + HOUR)).toBeUndefined();
    expect(s.outages.outageOf('E-E-SUB1-IN', window.startsAt + HOUR)).toBeUndefined();
  });

  it('explains balance, stopped-meter and heating alerts that began in the window below the node, and nothing else', () => {
    const s = approved();
    const now = window.startsAt + HOUR;
    const f = (type: string, meter: string, since: number) => s.outages.explains({ type, meter, since }, now);
    expect(f('meter-stopped', 'E-E1-101', window.startsAt + 5 * MIN)).toBe(true);
    expect(
      s.outages.explains({ type: 'energy-balance', node: 'E-E1-MAIN', since: window.startsAt }, now),
    ).toBe(true);
    expect(f('unauthorized-heating', 'E-E1-202', window.startsAt + 30 * MIN)).toBe(true);
    // A meter outside the subtree: raised.
    expect(f('meter-stopped', 'E-E2-101', window.startsAt + 5 * MIN)).toBe(false);
    expect(
      s.outages.explains({ type: 'energy-balance', node: 'E-E-SUB1-IN', since: window.startsAt }, now),
    ).toBe(false);
    // A meter that stopped before the window: raised (the outage does not explain it).
    expect(f('meter-stopped', 'E-E1-101', window.startsAt - HOUR)).toBe(false);
    // Other kinds of alert: raised (theft, tamper and illegal loads are not explained by a cut).
    expect(f('meter-tamper', 'E-E1-101', window.startsAt + 5 * MIN)).toBe(false);
    expect(f('illegal-load', 'E-E1-101', window.startsAt + 5 * MIN)).toBe(false);
    // Still stopped after the window has settled: raised.
    expect(
      s.outages.explains(
        { type: 'meter-stopped', meter: 'E-E1-101', since: window.startsAt + 5 * MIN },
        window.endsAt + 31 * MIN,
      ),
    ).toBe(false);
    // Before the window: nothing explained.
    expect(s.outages.explains({ type: 'meter-stopped', meter: 'E-E1-101', since: T0 }, T0 + HOUR)).toBe(
      false,
    );
  });

  it('explains nothing for an outage rejected, cancelled or not yet approved', () => {
    const s = setup();
    const p = s.outages.plan(operator, { utility: 'electricity', node: 'E-E1-MAIN', ...window, reason: 'x' });
    const q = s.outages.plan(operator, { utility: 'electricity', node: 'E-E2-MAIN', ...window, reason: 'x' });
    s.outages.approve(supervisor, q.id);
    s.outages.cancel(supervisor, q.id, 'postponed');
    const now = window.startsAt + HOUR;
    expect(s.outages.explains({ type: 'meter-stopped', meter: 'E-E1-101', since: now - MIN }, now)).toBe(
      false,
    );
    expect(s.outages.explains({ type: 'meter-stopped', meter: 'E-E2-101', since: now - MIN }, now)).toBe(
      false,
    );
    expect(s.outages.outageOf('E-E2-101', now)).toBeUndefined();
    expect(s.outages.get(p.id).state).toBe('planned');
  });
});

describe('afterwards: what the readings show, recorded against the notice', () => {
  /** The building's register every 5 min, rising 1 kWh a step except while off ∈ [offFrom, offTo). */
  function register(meter: string, offFrom: number, offTo: number): StoredReading[] {
    const out: StoredReading[] = [];
    let v = 1000;
    let seq = 0;
    for (let t = window.startsAt - 4 * HOUR; t <= window.endsAt + 6 * HOUR; t += 5 * MIN) {
      if (t < offFrom || t >= offTo) v += 1;
      const off = t >= offFrom && t < offTo;
      // While off, the building's meter has no power: error readings (or none).
      out.push(
        off
          ? {
              meter,
              ts: t,
              seq: seq++,
              quality: 'error',
              values: {},
              error: { code: 'TIMEOUT', message: 'no answer' },
              site: 'east',
              gateway: 'gw',
              kind: 'electricity',
            }
          : {
              meter,
              ts: t,
              seq: seq++,
              quality: 'good',
              values: { energy_import_kwh: v },
              site: 'east',
              gateway: 'gw',
              kind: 'electricity',
            },
      );
    }
    return out;
  }

  async function judged(offFrom: number, offTo: number) {
    const s = setup({ settleMinutes: 30 });
    const store = SqliteStore.open({ path: ':memory:' });
    await store.writeReadings(register('E-E1-MAIN', offFrom, offTo));
    // A sibling building that never stopped must not count.
    await store.writeReadings(register('E-E2-MAIN', 0, 0));
    const o = s.outages.plan(operator, {
      utility: 'electricity',
      node: 'E-E1-MAIN',
      ...window,
      reason: 'Busbar',
    });
    s.outages.approve(supervisor, o.id);
    s.time.now = window.endsAt + 25 * MIN;
    expect(await s.outages.judge(store)).toEqual([]); // still settling
    s.time.now = window.endsAt + 6 * HOUR;
    const [r] = await s.outages.judge(store);
    expect(await s.outages.judge(store)).toEqual([]); // recorded once
    await store.close();
    return { s, r: r! };
  }

  it('records an outage that went as planned', async () => {
    const { s, r } = await judged(window.startsAt, window.endsAt);
    expect(r.observation).toMatchObject({
      supplyStopped: true,
      verdicts: ['as-planned'],
      meters: ['E-E1-MAIN'],
    });
    expect(r.observation!.stoppedAt).toBe(window.startsAt);
    expect(s.audit.query({ subject: `outage:${r.id}` }).at(-1)).toMatchObject({
      action: 'outage.observed',
      actor: 'system:outages',
    });
  });

  it('records a late start and an overrun with how long', async () => {
    const { r } = await judged(window.startsAt + 40 * MIN, window.endsAt + 95 * MIN);
    expect(r.observation!.verdicts).toEqual(['started-late', 'overran']);
    expect(r.observation!.startedLateMs).toBe(40 * MIN);
    // Back at the first reading after the restore (5-min polls): 95 min late, as reported.
    expect(r.observation!.overranMs).toBe(95 * MIN);
  });

  it('records a supply that never stopped', async () => {
    const { r } = await judged(0, 0);
    expect(r.observation!.verdicts).toEqual(['supply-not-stopped']);
  });

  it('waits for supply to come back, then records it as not restored after a day', async () => {
    const s = setup({ settleMinutes: 30 });
    const store = SqliteStore.open({ path: ':memory:' });
    await store.writeReadings(register('E-E1-MAIN', window.startsAt, Number.MAX_SAFE_INTEGER));
    const o = s.outages.plan(operator, {
      utility: 'electricity',
      node: 'E-E1-MAIN',
      ...window,
      reason: 'Busbar',
    });
    s.outages.approve(supervisor, o.id);
    s.time.now = window.endsAt + 2 * HOUR;
    expect(await s.outages.judge(store)).toEqual([]);
    s.time.now = window.endsAt + 25 * HOUR;
    const [r] = await s.outages.judge(store);
    expect(r!.observation!.verdicts).toEqual(['not-restored']);
    await store.close();
  });
});

describe('who is downstream, recomputed another way', () => {
  it('for every node of the demo campus, walking up from each meter finds the same meters as walking down', () => {
    const s = setup();
    // Each meter's ancestors from the campus file's `parent` fields, not from the tree's children.
    const parentOf = new Map<string, string | undefined>();
    for (const site of s.campus.config.sites)
      for (const g of site.gateways)
        for (const b of g.buses) for (const m of b.meters) parentOf.set(m.id, m.parent);
    const below = (node: string) =>
      [...parentOf.keys()]
        .filter((m) => {
          for (let cur: string | undefined = m; cur !== undefined; cur = parentOf.get(cur))
            if (cur === node) return true;
          return false;
        })
        .sort();
    let checked = 0;
    for (const [id, n] of Object.entries(s.tree.nodes)) {
      if (n.kind === 'group') continue;
      const o = s.outages.plan(operator, {
        ...{ utility: n.kind, node: id, reason: 'recomputation' },
        ...{ startsAt: T0 + 48 * HOUR, endsAt: T0 + 49 * HOUR },
      });
      expect([id, [...o.affected.meters].sort()]).toEqual([id, below(id)]);
      // Every room or unit with an account is on some building's notice.
      const onNotices = new Set(o.affected.buildings.flatMap((b) => b.accounts));
      for (const m of below(id)) {
        const account = s.tree.nodes[m]!.account;
        if (account) expect(onNotices.has(account), `${id}: ${account}`).toBe(true);
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(50);
  });
});
