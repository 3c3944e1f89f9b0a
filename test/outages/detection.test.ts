import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { AlertStore } from '../../services/inspection/detection/alerts.ts';
import { startDetection, type RunningDetection } from '../../services/inspection/detection/service.ts';
import type { DetectionResult, Finding } from '../../services/inspection/detection/types.ts';
import { HOUR, operator, setup, supervisor, T0 } from './support.ts';

/**
 * Detection's alert store with a planned outage: the service runs for real (its store, its sync,
 * its publishing); the findings are the ones the detectors make when a building's supply is cut
 * (its rooms stopped, its balance node short), plus a stopped meter in the next building and one
 * that stopped before the window. Only the findings the outage explains are kept out of the alerts,
 * and only while it lasts and settles.
 */

const MIN = 60_000;
const START = T0 + 48 * HOUR;
const END = T0 + 52 * HOUR;

const finding = (
  type: Finding['type'],
  where: { meter?: string; node?: string },
  since: number,
): Finding => ({
  type,
  key: `${type}:${where.meter ?? where.node}:${since}`,
  severity: 'medium',
  ...where,
  score: 1,
  since,
  reason: 'test finding',
  evidence: { from: since, to: since + HOUR, figures: {} },
});

let detection: RunningDetection | undefined;
let store: SqliteStore | undefined;
afterEach(async () => {
  await detection?.stop();
  await store?.close();
});

describe('detection during a planned outage', () => {
  it('raises no balance, stopped-meter or heating alert below the node in the window; raises the others', async () => {
    const s = setup({ settleMinutes: 30 });
    const o = s.outages.plan(operator, {
      ...{ utility: 'electricity', node: 'E-E1-MAIN', reason: 'Busbar' },
      ...{ startsAt: START, endsAt: END },
    });
    s.outages.approve(supervisor, o.id);
    const alerts = new AlertStore(s.db, s.audit, s.clock);
    store = SqliteStore.open({ path: ':memory:' });
    const findings: Finding[] = [
      finding('meter-stopped', { meter: 'E-E1-101' }, START + 5 * MIN),
      finding('energy-balance', { node: 'E-E1-MAIN' }, START),
      finding('unauthorized-heating', { meter: 'E-E1-202' }, START + 20 * MIN),
      // Outside the subtree: the next building's room.
      finding('meter-stopped', { meter: 'E-E2-101' }, START + 5 * MIN),
      // Inside, but stopped an hour before the window: not the outage's doing.
      finding('meter-stopped', { meter: 'E-E1-102' }, START - HOUR),
      // Inside and in the window, but not something a cut causes.
      finding('meter-tamper', { meter: 'E-E1-201' }, START + 5 * MIN),
    ];
    detection = startDetection({
      ...{ store, campus: s.campus, alerts, clock: s.clock },
      detect: (): DetectionResult => ({ findings, scores: [] }) as unknown as DetectionResult,
      publish: () => undefined,
      intervalMs: 3_600_000,
      windowMs: 2 * 86_400_000,
      explained: (f, now) => s.outages.explains(f, now),
    });
    const open = () =>
      alerts
        .list({ active: true })
        .map((a) => `${a.type}:${a.meter ?? a.node}`)
        .sort();

    s.time.now = START + HOUR;
    await detection.runOnce();
    expect(open()).toEqual(['meter-stopped:E-E1-102', 'meter-stopped:E-E2-101', 'meter-tamper:E-E1-201']);

    // Past the settling time the same conditions are raised: supply did not come back.
    s.time.now = END + 31 * MIN;
    await detection.runOnce();
    expect(open()).toEqual([
      'energy-balance:E-E1-MAIN',
      'meter-stopped:E-E1-101',
      'meter-stopped:E-E1-102',
      'meter-stopped:E-E2-101',
      'meter-tamper:E-E1-201',
      'unauthorized-heating:E-E1-202',
    ]);
  });
});
