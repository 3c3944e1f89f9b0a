import { describe, expect, it } from 'vitest';
import { type BillRun } from '../../services/money/billing/bill-run.ts';
import { type BackofficeDb } from '../../services/platform/db.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { accounts, billRunsOn, campusWithReadings, period } from '../billing/thread-campus.ts';
import { closedAfterEach } from '../helpers/closed-after-each.ts';

/**
 * The attack on "a billed period is closed" when two bill runs are asked at once against the same
 * files: the back office (its run on a thread of its own) and the billing CLI, each a process with
 * its own connections to the back office's database, or two back-office connections. Each checks
 * the period is open before it starts; a run takes seconds of VEE before it records, so both can
 * pass the check. Exactly one may bill the period; the other must be refused with PERIOD_CLOSED,
 * and the audit chain must hold both writers' entries unbroken.
 */

/** One writer of the campus's files: its own store and database connections, as a process has. */
const writer = closedAfterEach(billRunsOn);

const fin1: Actor = { id: 'fin.zhang', kind: 'user', roles: ['billing'] };
const fin2: Actor = { id: 'fin.zhao', kind: 'user', roles: ['billing'] };

function oneBilled(results: PromiseSettledResult<BillRun>[], db: BackofficeDb) {
  const done = results.filter((r) => r.status === 'fulfilled');
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  expect(done).toHaveLength(1);
  expect(refused).toHaveLength(1);
  expect(refused[0]!.reason).toMatchObject({ code: 'PERIOD_CLOSED' });
  expect(String((refused[0]!.reason as Error).message)).toContain(period.label);
  const rows = db.prepare('SELECT id FROM bill_runs').all() as { id: string }[];
  expect(rows.map((r) => r.id)).toEqual([(done[0] as PromiseFulfilledResult<BillRun>).value.id]);
  // No lines of a run that was not recorded.
  const orphans = db
    .prepare('SELECT COUNT(*) AS n FROM bill_run_lines WHERE run_id NOT IN (SELECT id FROM bill_runs)')
    .get() as { n: number };
  expect(orphans.n).toBe(0);
}

describe('two bill runs of one period asked at once', () => {
  it('by two billing users on two connections (the CLI beside the back office): one bills, the other is refused', async () => {
    const dir = await campusWithReadings();
    const a = await writer(dir, false);
    const b = await writer(dir, false);
    const results = await Promise.allSettled([
      a.runs.run(fin1, { period, accounts }),
      b.runs.run(fin2, { period, accounts }),
    ]);
    oneBilled(results, a.db);
    expect(a.audit.verify().ok).toBe(true);
    const runsAudited = a.audit.query({ limit: 10_000 }).filter((e) => e.action === 'billing.run');
    expect(runsAudited).toHaveLength(1);
  });

  it('through the API (a thread) and the CLI (its own connection) at once: one bills, the other is refused', async () => {
    const dir = await campusWithReadings();
    const api = await writer(dir, true);
    const cli = await writer(dir, false);
    const results = await Promise.allSettled([
      api.runs.run(fin1, { period, accounts }),
      cli.runs.run(fin2, { period, accounts }),
    ]);
    oneBilled(results, cli.db);
    expect(cli.audit.verify().ok).toBe(true);
  });
});
