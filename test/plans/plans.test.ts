import { describe, expect, it } from 'vitest';
import { UsePlans } from '../../services/metering/plans/plans.ts';
import { yearEndHtml } from '../../services/metering/plans/report-html.ts';
import { local, MemoryValidatedSource, TZ, type DayInput } from '../billing/support.ts';
import { expectRefused, lead, operator, setup, supervisor } from '../outages/support.ts';

/**
 * Annual water plans on the demo campus: Dorm E1's water meter W-E1 uses 1 m³ every day of 2026
 * (one March day estimated by VEE) against a plan of 300 m³. Hand-worked: January–July is 212 days,
 * so 80 % (240 m³) is passed during 28 August and 100 % (300 m³) during 27 October; the year uses
 * 365 m³, 65 m³ over the plan (121.66 %).
 */

function plans() {
  const s = setup();
  const src = new MemoryValidatedSource(TZ);
  const year: DayInput[] = Array.from({ length: 365 }, () => 1);
  year[69] = { value: 1, source: 'estimated' }; // 11 March
  src.setDays('W-E1', 'volume_m3', [2026, 1, 1], year, 5000);
  src.setDays(
    'W-E2',
    'volume_m3',
    [2026, 1, 1],
    Array.from({ length: 365 }, () => 0.5),
    100,
  );
  s.time.now = local(2026, 1, 5, 9);
  const p = new UsePlans({
    db: s.db,
    audit: s.audit,
    clock: s.clock,
    tree: s.tree,
    timezone: TZ,
    source: src,
  });
  return { ...s, p };
}

const dorm = {
  unit: 'dorm-e1',
  name: 'Dorm E1',
  utility: 'water' as const,
  year: 2026,
  meters: ['W-E1'],
  quantity: 300,
};

describe('annual water plans', () => {
  it('are proposed by an operator and approved by someone else; a new version supersedes the old', () => {
    const s = plans();
    const v1 = s.p.propose(operator, dorm);
    expect(v1).toMatchObject({ state: 'proposed', quantityMilli: 300_000, meters: ['W-E1'] });
    expectRefused(s.db, 'FORBIDDEN', () => s.p.approve(operator, v1.id));
    const own = s.p.propose(lead, { ...dorm, quantity: 280 });
    expectRefused(s.db, 'SELF_APPROVAL', () => s.p.approve(lead, own.id));
    expectRefused(s.db, 'INVALID_PLAN', () => s.p.propose(operator, { ...dorm, meters: ['E-E1-101'] }));
    expectRefused(s.db, 'INVALID_PLAN', () => s.p.propose(operator, { ...dorm, quantity: -5 }));
    expect(s.p.approve(supervisor, v1.id).state).toBe('approved');
    s.p.approve(supervisor, own.id);
    expect(s.p.get(v1.id).state).toBe('superseded');
    expect(s.p.approved('dorm-e1', 'water', 2026)?.id).toBe(own.id);
    expect(s.audit.query({ subject: `plan:${v1.id}` }).map((e) => e.action)).toEqual([
      'plan.propose',
      'plan.approve',
      'plan.supersede',
    ]);
  });

  it('follows use per month from the validated days and warns once at 80 % and once at 100 %', async () => {
    const s = plans();
    const plan = s.p.approve(supervisor, s.p.propose(operator, dorm).id);
    s.time.now = local(2026, 8, 20);
    let st = await s.p.status(plan);
    expect(st.months.map((m) => m.useMilli)).toEqual([31, 28, 31, 30, 31, 30, 31, 19].map((d) => d * 1000));
    expect(st.months[2]!.estimatedMilli).toBe(1000);
    expect([st.useMilli, st.shareBp, st.level]).toEqual([231_000, 7700, 0]);
    expect(await s.p.warn(2026)).toEqual([]);

    s.time.now = local(2026, 8, 30);
    expect(await s.p.warn(2026)).toEqual([{ plan: plan.id, level: 80, useMilli: 241_000 }]);
    expect(await s.p.warn(2026)).toEqual([]); // said once

    s.time.now = local(2026, 10, 28);
    st = await s.p.status(plan);
    expect([st.useMilli, st.level]).toEqual([300_000, 100]);
    expect(await s.p.warn(2026)).toEqual([{ plan: plan.id, level: 100, useMilli: 300_000 }]);
    expect(
      s.audit.query({ action: 'plan.warning' }).map((e) => (e.after as { level: number }).level),
    ).toEqual([80, 100]);
  });

  it('reports the year per unit: months adding to the year exactly, over the plan by 65 m³', async () => {
    const s = plans();
    s.p.approve(supervisor, s.p.propose(operator, dorm).id);
    s.time.now = local(2027, 1, 5);
    const r = await s.p.yearEnd('dorm-e1', 'water', 2026);
    expect(r.months).toHaveLength(12);
    expect(r.months.reduce((a, m) => a + m.useMilli, 0)).toBe(365_000);
    expect([r.useMilli, r.overMilli, r.shareBp, r.complete]).toEqual([365_000, 65_000, 12_166, true]);
    await expect(s.p.yearEnd('dorm-e2', 'water', 2026)).rejects.toMatchObject({ code: 'PLAN_NOT_FOUND' });
    // The printable report, in both languages, figures from the integers.
    const zh = yearEndHtml(r, 'zh');
    expect(zh).toContain('2026 年度用量计划执行报告');
    expect(zh).toContain('<td>365.000 m³</td>');
    expect(zh).toContain('121.66 %');
    expect(zh).toContain('超计划</th><td>65.000 m³');
    expect(zh).toContain('<tr data-month="2026-03"><td>2026-03</td><td>31.000</td><td>1.000</td></tr>');
    const en = yearEndHtml(r, 'en');
    expect(en).toContain('Over the plan</th><td>65.000 m³');
    expect(en).not.toContain('The year is not over');
  });
});
