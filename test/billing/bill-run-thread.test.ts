import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCampus } from '../../config/campus.ts';
import { type BillRun } from '../../services/money/billing/bill-run.ts';
import { runBillRunInThread } from '../../services/money/billing/bill-run-job.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import { billing, clerk } from './support.ts';
import { accounts, billRunsOn, campusWithReadings, NOW, period, tariffs } from './thread-campus.ts';
import { closedAfterEach } from '../helpers/closed-after-each.ts';

/**
 * A bill run on its own thread (bill-run-job.ts) against the same run in the back office's
 * thread, on two copies of one campus (the example campus file, a real SQLite store with ten days
 * of 15-minute readings, a real back-office database): the same lines, blocked meters and digest;
 * the back office's loop turns all through the threaded run; and the back office writing its
 * audit log all the while leaves one unbroken chain with both writers' entries.
 */

const backoffice = closedAfterEach(billRunsOn);

const comparable = (r: BillRun) => ({
  lines: r.lines,
  blocked: r.blocked,
  totalFen: r.totalFen,
  digest: r.digest,
});

describe('a bill run on a thread of its own', () => {
  it('bills exactly what the back office’s own thread bills, while its loop keeps turning and its audit log keeps being written', async () => {
    const dir = await campusWithReadings();
    const copy = mkdtempSync(join(tmpdir(), 'bill-thread-copy-'));
    cpSync(dir, copy, { recursive: true });

    const here = await backoffice(dir, false);
    const inProcess = await here.runs.run(billing, { period, accounts });
    expect(inProcess.lines.length).toBeGreaterThanOrEqual(5);
    // A day and two hours without readings: estimated, and billed as such.
    for (const m of ['E-DORM-A-102', 'E-CANTEEN'])
      expect(inProcess.lines.find((l) => l.meter === m)!.estimatedMilli).toBeGreaterThan(0);

    const there = await backoffice(copy, true);
    let turns = 0;
    let appended = 0;
    let writeErrors = 0;
    const ticker = setInterval(() => {
      turns++;
      // The back office's own writes while the thread writes the same file (the attack on two writers).
      try {
        there.audit.append({ actor: 'sup.li', action: 'test.tick', subject: `tick:${appended}`, after: {} });
        appended++;
      } catch {
        writeErrors++;
      }
    }, 5);
    const threaded = await there.runs.run(billing, { period, accounts }).finally(() => clearInterval(ticker));

    expect(comparable(threaded)).toEqual(comparable(inProcess));
    expect(threaded.createdBy).toBe('fin.zhang');
    // The loop ran while the thread worked (in the back office's thread it would not have turned at all).
    expect(turns).toBeGreaterThan(10);
    expect(writeErrors).toBe(0);
    expect(appended).toBe(turns);
    // One chain: the thread's pins and run, the back office's ticks, every link and MAC checked.
    const verified = there.audit.verify();
    expect(verified.ok).toBe(true);
    const actions = there.audit.query({ limit: 10_000 }).map((e) => e.action);
    expect(actions).toContain('billing.run');
    expect(actions).toContain('vee.pin');
    expect(actions.filter((a) => a === 'test.tick')).toHaveLength(appended);
  });

  it('refuses in the back office first (permission, closed period), and brings back the thread’s own refusals with their code', async () => {
    const dir = await campusWithReadings();
    const there = await backoffice(dir, true);
    await expect(there.runs.run(clerk, { period, accounts })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await there.runs.run(billing, { period, accounts });
    await expect(there.runs.run(billing, { period, accounts })).rejects.toMatchObject({
      code: 'PERIOD_CLOSED',
    });
    // Straight to the thread (no check here first): its refusal comes back a ServiceError.
    const campus = loadCampus(join(dir, 'campus.yaml'));
    const refused = runBillRunInThread({ campus, actor: clerk, period, accounts, tariffs, now: NOW });
    await expect(refused).rejects.toBeInstanceOf(ServiceError);
    await expect(refused).rejects.toMatchObject({ code: 'FORBIDDEN', status: 403 });
  });
});
