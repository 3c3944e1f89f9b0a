import { describe, expect, it } from 'vitest';
import type { EnergyReport } from '../../services/money/reports/energy-report.ts';
import { ClosedReports } from '../../services/money/reports/closed-reports.ts';
import { TARIFFS } from './report-fixture.ts';

/** Which reports are kept, and what makes a kept one be computed again. */

const DAY = 86_400_000;
const report = (gaps: number, n: number): EnergyReport =>
  ({
    generatedAt: n,
    utilities: [{ total: { gaps }, previous: { gaps: 0 }, lastYear: { gaps: 0 } }],
  }) as unknown as EnergyReport;

function counter(gaps = 0) {
  let n = 0;
  return { compute: async () => report(gaps, ++n), calls: () => n };
}

describe('closed reports kept between requests', () => {
  const base = {
    tariffs: TARIFFS,
    customers: 'R1=student-room',
    postPaid: false,
    periodEnd: 10 * DAY,
    now: 20 * DAY,
  };

  it('keeps a closed period while the tariffs and the customers are the same', async () => {
    const kept = new ClosedReports();
    const c = counter();
    await kept.get('k', base, c.compute);
    await kept.get('k', { ...base, now: base.now + 400 * DAY }, c.compute);
    expect(c.calls()).toBe(1);
    // An account's type verified, a new tariff version: computed again.
    await kept.get('k', { ...base, customers: 'R1=student-room;R2=student-room' }, c.compute);
    await kept.get(
      'k',
      { ...base, customers: 'R1=student-room;R2=student-room', tariffs: { ...TARIFFS } },
      c.compute,
    );
    expect(c.calls()).toBe(3);
  });

  it('never keeps a period not yet settled, nor one that prices post-paid meters', async () => {
    const kept = new ClosedReports();
    const c = counter();
    for (let i = 0; i < 2; i++) await kept.get('open', { ...base, periodEnd: base.now - DAY / 2 }, c.compute);
    for (let i = 0; i < 2; i++) await kept.get('vee', { ...base, postPaid: true }, c.compute);
    expect(c.calls()).toBe(4);
  });

  it('keeps a report with gaps for ten minutes only: a replayed outbox may fill them', async () => {
    const kept = new ClosedReports();
    const c = counter(3);
    await kept.get('k', base, c.compute);
    await kept.get('k', { ...base, now: base.now + 599_000 }, c.compute);
    expect(c.calls()).toBe(1);
    await kept.get('k', { ...base, now: base.now + 600_000 }, c.compute);
    expect(c.calls()).toBe(2);
  });
});
