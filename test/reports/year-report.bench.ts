/**
 * How long a yearly energy report of the demo campus takes with every meter post-paid (priced from
 * VEE's validated days), on meters that began reading `YEAR_BENCH_DAYS` (12) days before now: the
 * demo's situation, where VEE used to validate and record a whole year of empty intervals per
 * meter. Prints the wall-clock time of the first report (VEE computes and records) and of a second
 * one (versions already recorded), and the VEE versions recorded. Run: `npx tsx
 * test/reports/year-report.bench.ts` (YEAR_BENCH_ROOMS sets the rooms per floor line, default 2).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { validateCampus } from '../../config/campus.ts';
import { meterRegistry } from '../../config/registry.ts';
import { campusTree } from '../../services/metering/live/tree.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { campusVee } from '../../services/metering/vee/campus.ts';
import { energyReport } from '../../services/money/reports/energy-report.ts';
import { parsePeriod } from '../../services/money/reports/period.ts';
import { parseScope } from '../../services/money/reports/scope.ts';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { demoBusCount, demoCampus } from '../../simulators/campus/demo-campus.ts';
import { tariffs } from '../billing/thread-campus.ts';

const DAYS = Number(process.env['YEAR_BENCH_DAYS'] ?? 12);
const ROOMS = Number(process.env['YEAR_BENCH_ROOMS'] ?? 2);
const STEP = 15 * 60_000;
const NOW = Date.UTC(2026, 11, 6, 16); // 2026-12-07 00:00 in Shanghai
const REGISTER = { electricity: 'energy_import_kwh', water: 'volume_m3', heat: 'heat_kwh' } as const;

const dir = mkdtempSync(join(tmpdir(), 'year-report-bench-'));
const ports = Array.from({ length: demoBusCount() }, (_, i) => 20_000 + i);
const campus = validateCampus(demoCampus({ ports, dataDir: dir, roomsPerFloorLine: ROOMS }), {
  file: join(dir, 'campus.yaml'),
  dir,
});
const store = SqliteStore.open({ path: ':memory:' });
const readings: StoredReading[] = [];
for (const [meter, place] of meterRegistry(campus)) {
  let v = 1000;
  for (let ts = NOW - DAYS * 86_400_000, seq = 1; ts <= NOW; ts += STEP, seq++) {
    v += 0.25 * (1 + 0.5 * Math.sin((2 * Math.PI * (ts % 86_400_000)) / 86_400_000));
    readings.push({ meter, ts, seq, quality: 'good', values: { [REGISTER[place.kind]]: v }, ...place });
  }
}
await store.writeReadings(readings);
const db = openBackofficeDb(join(dir, 'backoffice.sqlite'));
const clock = () => NOW;
const vee = campusVee({ campus, store, db, audit: new AuditLog(db, clock), clock });
const tree = campusTree(campus);
const report = () =>
  energyReport(
    {
      ...{ tree, store, tariffs, heatUnit: campus.config.reports.heatUnit, clock },
      customerOf: () => ({ type: 'student-room', postPaid: true }),
      validated: (q) => vee.intervals(q),
    },
    parseScope('campus', tree),
    parsePeriod('year', '2026', 'Asia/Shanghai'),
  );

const meters = meterRegistry(campus).size;
console.log(`yearly report, demo campus: ${meters} meters, ${DAYS} days of 15-min readings each`);
for (const run of ['first (VEE computes)', 'second (versions recorded)']) {
  const started = performance.now();
  const r = await report();
  const ms = performance.now() - started;
  const versions = (db.prepare('SELECT count(*) AS n FROM vee_interval_versions').get() as { n: number }).n;
  // Months with no data at all are null ("no data"), never 0.
  const rows = r.utilities.flatMap((u) => u.rows);
  const noData = rows.filter((row) => row.value === null).length;
  const zero = rows.filter((row) => row.value === 0).length;
  console.log(
    `${run}: ${(ms / 1000).toFixed(2)} s; VEE versions stored ${versions}; month rows with no data ${noData}, with 0 ${zero}, of ${rows.length}`,
  );
}
db.close();
await store.close();
rmSync(dir, { recursive: true, force: true });
