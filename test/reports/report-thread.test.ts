import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCampus } from '../../config/campus.ts';
import { energyReport } from '../../services/money/reports/energy-report.ts';
import { parsePeriod } from '../../services/money/reports/period.ts';
import { runReportInThread } from '../../services/money/reports/report-job.ts';
import { stopOneShots } from '../../services/platform/threads/one-shot.ts';
import { parseScope, type CustomerMeter } from '../../services/money/reports/scope.ts';
import { campusTree } from '../../services/metering/live/tree.ts';
import { openStore } from '../../services/metering/open-store.ts';
import { campusVee } from '../../services/metering/vee/campus.ts';
import { openAuditLog } from '../../services/platform/audit/audit-log.ts';
import { auditKeyPath, backofficePath } from '../../services/platform/audit/paths.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { accounts, campusWithReadings, NOW, silent, tariffs, TZ } from '../billing/thread-campus.ts';

/**
 * An energy report on a thread of its own (report-job.ts) against the same report computed in the
 * back office's thread, on two copies of one real campus (SQLite store with eleven days of
 * readings, back-office database for VEE): the same rows, totals, costs and gaps, for a month and
 * for the year, with the post-paid meters priced from VEE in both.
 */

/** Post-paid meters from the billing accounts, the rest of the campus without a customer. */
const customers: [string, CustomerMeter][] = accounts.flatMap((a) =>
  a.meters.map((m): [string, CustomerMeter] => [m.meter, { type: a.customerType, postPaid: true }]),
);

async function here(dir: string, kind: 'month' | 'year', date: string) {
  const campus = loadCampus(join(dir, 'campus.yaml'));
  const store = await openStore(campus, silent);
  const db = openBackofficeDb(backofficePath(campus));
  try {
    const clock = () => NOW;
    const vee = campusVee({ campus, store, db, audit: openAuditLog(db, clock, auditKeyPath(campus)), clock });
    const tree = campusTree(campus);
    const map = new Map(customers);
    return await energyReport(
      {
        ...{ tree, store, tariffs, heatUnit: campus.config.reports.heatUnit, clock },
        customerOf: (m) => map.get(m),
        validated: (q) => vee.intervals(q),
      },
      parseScope('campus', tree),
      parsePeriod(kind, date, TZ),
    );
  } finally {
    db.close();
    await store.close();
  }
}

describe('an energy report on a thread of its own', () => {
  it('is the report the back office computes itself, for a month and a year', async () => {
    const dir = await campusWithReadings();
    const copy = mkdtempSync(join(tmpdir(), 'report-thread-copy-'));
    cpSync(dir, copy, { recursive: true });
    const campus = loadCampus(join(copy, 'campus.yaml'));
    const tree = campusTree(campus);
    for (const [kind, date] of [
      ['month', '2026-11'],
      ['year', '2026'],
    ] as const) {
      const expected = await here(dir, kind, date);
      const electricity = expected.utilities.find((u) => u.utility === 'electricity')!;
      // Something to compare: consumption and money in the period.
      expect(electricity.total.value).toBeGreaterThan(0);
      expect(electricity.total.costFen).toBeGreaterThan(0);
      const threaded = await runReportInThread({
        campus,
        scope: parseScope('campus', tree),
        period: parsePeriod(kind, date, TZ),
        tariffs,
        customers,
        validated: true,
        now: NOW,
      });
      expect(threaded).toEqual(expected);
    }
    // A year of VEE for six post-paid meters, twice: about 15 s on an idle machine.
  }, 240_000);

  it('ends, running or waiting, when the back office stops', async () => {
    const dir = await campusWithReadings();
    const campus = loadCampus(join(dir, 'campus.yaml'));
    const tree = campusTree(campus);
    const job = (date: string) =>
      runReportInThread({
        campus,
        scope: parseScope('campus', tree),
        period: parsePeriod('year', date, TZ),
        tariffs,
        customers,
        validated: true,
        now: NOW,
      });
    const running = job('2026');
    const waiting = job('2025');
    stopOneShots();
    await expect(running).rejects.toThrow('the job was stopped');
    await expect(waiting).rejects.toThrow('the job was stopped');
  });
});
