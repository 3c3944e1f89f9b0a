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

/** The demo campus's annual water plans for the current year, as data (same two demo people). */
export interface DemoPlan {
  unit: string;
  name: string;
  utility: 'water' | 'electricity';
  meters: string[];
  /** m³ (or kWh) for the year. */
  quantity: number;
}

export const DEMO_PLANS: readonly DemoPlan[] = [
  { unit: 'dorm-e1', name: 'Dorm E1 / 宿舍E1', utility: 'water', meters: ['W-E1'], quantity: 12_000 },
  { unit: 'dorm-w1', name: 'Dorm W1 / 宿舍W1', utility: 'water', meters: ['W-W1'], quantity: 12_000 },
];

/** The demo's capacity application: recorded and reviewed, waiting for the two supervisors. */
export const DEMO_CAPACITY = {
  utility: 'electricity' as const,
  meter: 'E-E-CANTEEN',
  applicant: 'East canteen (invented) / 东区食堂',
  increase: 40,
  reason: 'Two new electric ovens / 新增两台电烤箱',
};
