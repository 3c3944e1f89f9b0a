import { ScheduleSchema, type ScheduleConfig } from '../../config/schemas/power.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { localTimeToUtc } from '../../services/metering/consumption/zone.ts';
import { PolicyProposals } from '../../services/operations/schedules/proposals.ts';
import { ScheduleRunner } from '../../services/operations/schedules/runner.ts';
import type { CampusMeter } from '../../services/operations/schedules/targets.ts';
import type { MeterLocator } from '../../services/operations/control/relay-control.ts';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import type { SignedRelayCommand } from '../../services/operations/control/commands.ts';
import { RelayControl } from '../../services/operations/control/relay-control.ts';
import { gatewayKeys, signedAck, testKeys } from '../control/support.ts';
import { commandAckTopic } from '../../services/operations/control/commands.ts';
import { testLogger } from '../helpers/logger.ts';

export const TZ = 'Asia/Shanghai';
/** A Shanghai wall-clock time as UTC ms. */
export const local = (y: number, m: number, d: number, h = 0, min = 0): number =>
  localTimeToUtc(TZ, y, m, d, h, min);

const user = (id: string, ...roles: Actor['roles']): Actor => ({ id, kind: 'user', roles });
export const clerk = user('clerk.wang', 'clerk');
export const operator = user('op.sun', 'operator');
export const supervisor = user('sup.li', 'supervisor');
/** Clerk and supervisor at once: the proposer of a schedule still may not approve it. */
export const lead = user('lead.zhou', 'clerk', 'supervisor');

/**
 * Dorm building A (a building meter over two floor meters) and a staff household:
 * A-101 has one relay for the room; A-102 has a lighting and an air-conditioning relay; A-201
 * is a whole room on the second floor; a water meter sits below the building too.
 */
export const METERS: CampusMeter[] = [
  { id: 'E-BLDG-A', kind: 'electricity', circuit: 'room' },
  { id: 'E-A-F1', kind: 'electricity', circuit: 'room', parent: 'E-BLDG-A' },
  { id: 'E-A-F2', kind: 'electricity', circuit: 'room', parent: 'E-BLDG-A' },
  { id: 'E-A-101', kind: 'electricity', circuit: 'room', parent: 'E-A-F1', account: 'ROOM-A-101' },
  { id: 'E-A-102-L', kind: 'electricity', circuit: 'lighting', parent: 'E-A-F1', account: 'ROOM-A-102' },
  {
    id: 'E-A-102-AC',
    kind: 'electricity',
    circuit: 'air-conditioning',
    parent: 'E-A-F1',
    account: 'ROOM-A-102',
  },
  { id: 'E-A-201', kind: 'electricity', circuit: 'room', parent: 'E-A-F2', account: 'ROOM-A-201' },
  { id: 'W-A', kind: 'water', circuit: 'room', parent: 'E-BLDG-A' },
  { id: 'E-HH-1', kind: 'electricity', circuit: 'room', account: 'HH-1' },
];
/** Building and floor meters have no relay; the rooms do. */
export const locate: MeterLocator = (meter) =>
  METERS.some((m) => m.id === meter)
    ? { site: 'east', gateway: 'gw1', hasRelay: !['E-BLDG-A', 'E-A-F1', 'E-A-F2'].includes(meter) }
    : undefined;

/** Lights-out 23:00–06:30, Sunday to Thursday nights, in the autumn term of 2026. */
export function dormSchedule(extra: Partial<ScheduleConfig> = {}): ScheduleConfig {
  return ScheduleSchema.parse({
    id: 'dorm-a-nights',
    rooms: { under: ['E-BLDG-A'] },
    off: '23:00',
    on: '06:30',
    days: ['sun', 'mon', 'tue', 'wed', 'thu'],
    terms: [{ from: '2026-09-01', to: '2027-01-15' }],
    holidays: ['2026-09-30'],
    effectiveFrom: '2026-09-01',
    ...extra,
  });
}

/** Relay control with a movable clock, the proposals and a runner over `schedules`. */
export function scheduleFixture(
  schedules: ScheduleConfig[] = [dormSchedule()],
  closeVeto?: (meter: string) => string | null,
) {
  const now = { t: local(2026, 9, 14, 12) }; // a Monday in term
  const clock = () => now.t;
  const db = openBackofficeDb(':memory:');
  const audit = new AuditLog(db, clock);
  const sent: SignedRelayCommand[] = [];
  const control = new RelayControl({
    db,
    audit,
    clock,
    signingKey: testKeys().privateKey,
    locate,
    ackKeys: (_site, gateway) => (gateway === 'gw1' ? gatewayKeys.gw1.publicKey : undefined),
    send: async (c) => {
      sent.push(c);
    },
    ...(closeVeto ? { closeVeto } : {}),
  });
  let acked = 0;
  /** Gateway gw1 acks every command sent since the last call: switched and read back. */
  const ackAll = () => {
    for (const c of sent.slice(acked)) {
      const observed = c.action === 'open' ? ('open' as const) : ('closed' as const);
      control.handleAck(
        commandAckTopic(c.site, c.gateway, c.meter),
        signedAck({ id: c.id, meter: c.meter, action: c.action, observed }),
      );
    }
    acked = sent.length;
  };
  const f = { db, audit, control, sent, now, ackAll };
  const proposals = new PolicyProposals(f.db, f.audit, f.control, clock);
  const runner = (list: ScheduleConfig[] = schedules) =>
    new ScheduleRunner({
      db: f.db,
      audit: f.audit,
      control: f.control,
      proposals,
      schedules: list,
      meters: METERS,
      locate,
      timezone: TZ,
      clock,
      logger: testLogger(),
    });
  const made = runner();
  /** A runner tick, then the gateway's acks. */
  const tick = async (r = made) => {
    const out = await r.tick();
    ackAll();
    return out;
  };
  return { ...f, proposals, runner: made, makeRunner: runner, tick };
}

/** Proposes (clerk) and approves (supervisor) a schedule as the runner sees it now. */
export function approve(fx: ReturnType<typeof scheduleFixture>, schedule: ScheduleConfig) {
  const { version } = fx.runner.version(schedule);
  const p = fx.proposals.propose(clerk, version, 'autumn term lights-out, per the dorm rules');
  return fx.proposals.approve(supervisor, p.id, version, 'checked against the dorm rules');
}
