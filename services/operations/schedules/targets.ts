import type { CampusConfig } from '../../../config/schemas/campus.ts';
import type { ScheduleConfig } from '../../../config/schemas/power.ts';
import type { MeterLocator } from '../control/relay-control.ts';

/**
 * Which relays a schedule switches: the meters it names, the meters of the rooms (accounts) it
 * names and every meter below the building or floor meters it names, keeping those whose circuit
 * it switches and that have a relay. The list is part of what a supervisor approves: a room added
 * below a building later changes the schedule's version and needs a new approval.
 */

export interface CampusMeter {
  id: string;
  parent?: string | undefined;
  account?: string | undefined;
  circuit: string;
  kind: string;
}

export function campusMeters(config: CampusConfig): CampusMeter[] {
  return config.sites.flatMap((s) => s.gateways.flatMap((g) => g.buses.flatMap((b) => b.meters)));
}

export interface ScheduleTargets {
  /** Relay meters it switches, sorted. */
  meters: string[];
  /** Meters it names or reaches that it leaves alone, and why. */
  skipped: { meter: string; why: string }[];
}

export function scheduleTargets(
  schedule: ScheduleConfig,
  meters: readonly CampusMeter[],
  locate: MeterLocator,
): ScheduleTargets {
  const children = new Map<string, string[]>();
  for (const m of meters) {
    if (!m.parent) continue;
    children.set(m.parent, [...(children.get(m.parent) ?? []), m.id]);
  }
  const reached = new Set<string>(schedule.rooms.meters);
  const stack = [...schedule.rooms.under];
  while (stack.length > 0) {
    const id = stack.pop()!;
    for (const c of children.get(id) ?? []) {
      if (reached.has(c)) continue;
      reached.add(c);
      stack.push(c);
    }
  }
  const accounts = new Set(schedule.rooms.accounts);
  for (const m of meters) if (m.account && accounts.has(m.account)) reached.add(m.id);

  const byId = new Map(meters.map((m) => [m.id, m]));
  const out: ScheduleTargets = { meters: [], skipped: [] };
  for (const id of [...reached].sort()) {
    const m = byId.get(id);
    if (!m) out.skipped.push({ meter: id, why: 'not in the campus' });
    else if (m.kind !== 'electricity') continue;
    else if (!(schedule.circuits as readonly string[]).includes(m.circuit))
      out.skipped.push({ meter: id, why: `circuit ${m.circuit} is not switched by this schedule` });
    else if (!locate(id)?.hasRelay) out.skipped.push({ meter: id, why: 'no relay' });
    else out.meters.push(id);
  }
  return out;
}
