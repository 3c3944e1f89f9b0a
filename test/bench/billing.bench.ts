/**
 * A month's bills for 10,000 meters (`npm run bench:billing`): the whole bill run (reading VEE's
 * daily intervals and registers, pricing with tariff changes, tiers and multi-component water,
 * pinning, recording with its audit entry in a SQLite file) and the CSV export. Prints the time, the
 * peak memory and the ratio to the target (10 s on the 2-core reference machine).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { seededRandom } from '../../services/platform/seeded-random.ts';
import type { BillingAccount } from '../../services/money/billing/accounts.ts';
import { BillRuns } from '../../services/money/billing/bill-run.ts';
import { billRunCsv, payrollCsv } from '../../services/money/billing/export.ts';
import { parsePeriod } from '../../services/money/billing/period.ts';
import { fixtureTariffs } from '../billing/fixture.ts';
import { failFlag, MemoryValidatedSource, TZ } from '../billing/support.ts';

const METERS = Number(process.env.BENCH_METERS ?? 10_000);
const TARGET_S = 10;

const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(0)} MB`;

async function main() {
  const setupStart = performance.now();
  const rnd = seededRandom(2026);
  const src = new MemoryValidatedSource();
  const accounts: BillingAccount[] = [];
  const types = ['student-room', 'staff-household', 'business', 'vendor'] as const;
  for (let i = 0; accounts.reduce((n, a) => n + a.meters.length, 0) < METERS; i++) {
    const customerType = types[i % types.length]!;
    const id = `A${String(i).padStart(5, '0')}`;
    const meters: BillingAccount['meters'] = [{ meter: `E-${id}`, utility: 'electricity' }];
    // Households and vendors also have a water meter (three water components).
    if (customerType === 'staff-household' || customerType === 'vendor')
      meters.push({ meter: `W-${id}`, utility: 'water' });
    accounts.push({
      id,
      holder: `Holder ${id}`,
      customerType,
      ...(customerType === 'staff-household' && i % 8 === 1 ? { payrollCode: `P${i}` } : {}),
      meters,
    });
    const scale = customerType === 'business' ? 100 : customerType === 'staff-household' ? 14 : 4;
    for (const m of meters) {
      const water = m.utility === 'water';
      const days = Array.from({ length: 30 }, (_, d) => {
        const value = Math.round((water ? 0.4 : scale) * (0.5 + rnd()) * 1000) / 1000;
        // About 1 % of days estimated after a gap, 0.1 % failed and not estimated (blocked).
        const r = rnd();
        if (r < 0.01) return { value, source: 'estimated' as const, flags: [failFlag('gap')] };
        if (r < 0.011 && d > 0) return { value, flags: [failFlag('spike')] };
        return value;
      });
      src.setDays(m.meter, water ? 'volume_m3' : 'energy_import_kwh', [2026, 11, 1], days, 1000 * rnd());
    }
  }
  const meters = accounts.reduce((n, a) => n + a.meters.length, 0);
  const setupMs = performance.now() - setupStart;

  const dir = mkdtempSync(join(tmpdir(), 'bench-billing-'));
  const db = openBackofficeDb(join(dir, 'backoffice.sqlite'));
  const audit = new AuditLog(db);
  const runs = new BillRuns({ db, audit, tariffs: fixtureTariffs, source: src, timezone: TZ });
  const actor = { id: 'fin.bench', kind: 'user' as const, roles: ['billing' as const] };
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);

  const t0 = performance.now();
  const run = await runs.run(actor, { period: parsePeriod('2026-11', TZ), accounts });
  const t1 = performance.now();
  const csv = billRunCsv(run);
  const payroll = payrollCsv(run);
  const t2 = performance.now();
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const maxRssProcess = process.resourceUsage().maxRSS * 1024;

  const total = (t2 - t0) / 1000;
  console.log(
    `billing bench: ${meters} meters (${accounts.length} accounts), November 2026, 30 daily intervals each`,
  );
  console.log(`  setup (in-memory VEE data):  ${(setupMs / 1000).toFixed(2)} s`);
  console.log(
    `  bill run (read, price, pin, record + audit): ${((t1 - t0) / 1000).toFixed(2)} s — ${run.lines.length} billed, ${run.blocked.length} blocked, total ${run.totalFen} fen`,
  );
  console.log(
    `  CSV export (${(csv.length / 1e6).toFixed(1)} MB) + payroll list (${payroll.split('\n').length - 2} rows): ${((t2 - t1) / 1000).toFixed(2)} s`,
  );
  console.log(
    `  total: ${total.toFixed(2)} s; target ≤ ${TARGET_S} s → ratio ${(total / TARGET_S).toFixed(2)} of the target`,
  );
  console.log(
    `  memory: rss before ${mb(rssBefore)}, peak during ${mb(peakRss)} (+${mb(peakRss - rssBefore)}); process max RSS ${mb(maxRssProcess)}`,
  );
  console.log(`  throughput: ${Math.round(meters / ((t1 - t0) / 1000))} meters/s`);
  db.close();
  rmSync(dir, { recursive: true, force: true });
  if (total > TARGET_S) process.exitCode = 1;
}

await main();
