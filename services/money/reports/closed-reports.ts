import type { TariffTable } from '../billing/tariffs.ts';
import type { EnergyReport } from './energy-report.ts';

/**
 * Reports of closed periods kept between requests: a year printed in January is asked for again
 * and again (the page, then the CSV, then the XLSX) and its inputs do not change. A kept report
 * is used only while everything it was computed from is the same: the tariff table (a new
 * version is a new table object), the customer of every account meter (an account opened or its
 * type verified changes it), and no gap that a late reading could still fill (a report with gaps
 * is kept for `gapTtlMs` only, as its intervals are). A report that prices post-paid meters is
 * never kept: VEE's edits and estimates can change their validated days at any time.
 */
export class ClosedReports {
  private readonly kept = new Map<
    string,
    { report: EnergyReport; tariffs: TariffTable; customers: string; until: number }
  >();

  constructor(
    private readonly settleMs = 86_400_000,
    private readonly gapTtlMs = 600_000,
  ) {}

  async get(
    key: string,
    inputs: { tariffs: TariffTable; customers: string; postPaid: boolean; periodEnd: number; now: number },
    compute: () => Promise<EnergyReport>,
  ): Promise<EnergyReport> {
    const k = this.kept.get(key);
    if (k && k.tariffs === inputs.tariffs && k.customers === inputs.customers && k.until > inputs.now)
      return k.report;
    const report = await compute();
    if (!inputs.postPaid && inputs.periodEnd <= inputs.now - this.settleMs) {
      const gaps = report.utilities.some(
        (u) => u.total.gaps > 0 || u.previous.gaps > 0 || u.lastYear.gaps > 0,
      );
      this.kept.set(key, { report, ...inputs, until: gaps ? inputs.now + this.gapTtlMs : Infinity });
    }
    return report;
  }
}
