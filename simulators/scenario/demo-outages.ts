/**
 * The demo campus's planned outages, as data: planned by the demo operator and approved by the
 * demo supervisor when the demo first starts, so that the public page and the outage desk have
 * something announced. Days count from the demo's start day, times are local (campus zone).
 */
export interface DemoOutage {
  utility: 'electricity' | 'water' | 'heat';
  node: string;
  /** Days after today (local). */
  inDays: number;
  fromHour: number;
  toHour: number;
  reason: string;
}

export const DEMO_OUTAGES: readonly DemoOutage[] = [
  {
    utility: 'electricity',
    node: 'E-E2-MAIN',
    inDays: 3,
    fromHour: 8,
    toHour: 12,
    reason: 'Dorm E2 main switchboard: busbar replacement / 宿舍E2总配电柜母排更换',
  },
  {
    utility: 'water',
    node: 'W-W1',
    inDays: 5,
    fromHour: 9,
    toHour: 11,
    reason: 'Dorm W1 riser valve replacement / 宿舍W1立管阀门更换',
  },
];
