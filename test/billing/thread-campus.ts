import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadCampus } from '../../config/campus.ts';
import { parseBillingAccounts } from '../../services/money/billing/accounts.ts';
import { BillRuns } from '../../services/money/billing/bill-run.ts';
import { runBillRunInThread } from '../../services/money/billing/bill-run-job.ts';
import { parsePeriod } from '../../services/money/billing/period.ts';
import { parseTariffTable } from '../../services/money/billing/tariffs.ts';
import { openStore } from '../../services/metering/open-store.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { campusVee } from '../../services/metering/vee/campus.ts';
import { openAuditLog } from '../../services/platform/audit/audit-log.ts';
import { auditKeyPath, backofficePath } from '../../services/platform/audit/paths.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { tempCampusFile } from '../audit/helpers.ts';
import { fixtureTariffInput } from './fixture.ts';

/**
 * A real campus for the heavy jobs' threads (bill runs, reports): the example campus file in a
 * temporary folder, its SQLite store with eleven days of 15-minute readings of six meters, and
 * the back office's database and audit key made, ready to be copied and opened twice.
 */

export const TZ = 'Asia/Shanghai';
const STEP = 15 * 60_000;
const T0 = Date.UTC(2026, 9, 31, 16); // 2026-11-01 00:00 in Shanghai
export const NOW = T0 + 11 * 86_400_000;
export const silent = pino({ level: 'silent' });

const METERS: [string, StoredReading['kind'], number][] = [
  ['E-BLDG-A', 'electricity', 40],
  ['E-CANTEEN', 'electricity', 25],
  ['E-DORM-A-101', 'electricity', 0.3],
  ['E-DORM-A-102', 'electricity', 0.25],
  ['E-STAFF-3-201', 'electricity', 0.6],
  ['W-BLDG-A', 'water', 0.4],
];

/** Eleven days at 15 minutes with a daily shape; one meter silent for a day, one for 2 h (both estimated). */
function readingsOf(meter: string, kind: StoredReading['kind'], perStep: number): StoredReading[] {
  const q = kind === 'water' ? 'volume_m3' : 'energy_import_kwh';
  const out: StoredReading[] = [];
  let v = 1000;
  for (let i = 0; i <= 11 * 96; i++) {
    const ts = T0 + i * STEP;
    v += perStep * (1 + 0.5 * Math.sin((2 * Math.PI * (i % 96)) / 96));
    if (meter === 'E-DORM-A-102' && i >= 4 * 96 && i < 5 * 96) continue;
    if (meter === 'E-CANTEEN' && i >= 6 * 96 + 40 && i < 6 * 96 + 48) continue;
    out.push({
      meter,
      ts,
      seq: i + 1,
      quality: 'good',
      values: { [q]: v },
      site: 'east',
      gateway: 'gw',
      kind,
    });
  }
  return out;
}

export const accounts = parseBillingAccounts({
  accounts: [
    {
      id: 'B-A',
      holder: 'Building A',
      customerType: 'business',
      meters: [
        { meter: 'E-BLDG-A', utility: 'electricity' },
        { meter: 'W-BLDG-A', utility: 'water' },
      ],
    },
    {
      id: 'B-CANTEEN',
      holder: 'Canteen',
      customerType: 'vendor',
      meters: [{ meter: 'E-CANTEEN', utility: 'electricity' }],
    },
    {
      id: 'S-A-101',
      holder: 'Dorm A 101',
      customerType: 'student-room',
      meters: [{ meter: 'E-DORM-A-101', utility: 'electricity' }],
    },
    {
      id: 'S-A-102',
      holder: 'Dorm A 102',
      customerType: 'student-room',
      meters: [{ meter: 'E-DORM-A-102', utility: 'electricity' }],
    },
    {
      id: 'H-3-201',
      holder: 'Staff 3-201',
      customerType: 'staff-household',
      meters: [{ meter: 'E-STAFF-3-201', utility: 'electricity' }],
    },
  ],
});
export const tariffs = parseTariffTable(fixtureTariffInput);
export const period = parsePeriod('2026-11-02..2026-11-10', TZ);

/** A campus folder with the readings stored and the back office's database and audit key made. */
export async function campusWithReadings(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bill-thread-'));
  const file = tempCampusFile(dir);
  const campus = loadCampus(file);
  const store = await openStore(campus, silent);
  for (const [meter, kind, step] of METERS) await store.writeReadings(readingsOf(meter, kind, step));
  await store.close();
  const db = openBackofficeDb(backofficePath(campus));
  openAuditLog(db, () => NOW, auditKeyPath(campus));
  db.close();
  return dir;
}

/**
 * Bill runs over the campus folder `dir` as one process makes them: its own store and back-office
 * database connections, the campus's VEE, and with `inThread` each run on a thread of its own
 * (bill-run-job.ts), else in this thread. `close` ends both connections.
 */
export async function billRunsOn(dir: string, inThread: boolean) {
  const campus = loadCampus(join(dir, 'campus.yaml'));
  const store = await openStore(campus, silent);
  const db = openBackofficeDb(backofficePath(campus));
  const clock = () => NOW;
  const audit = openAuditLog(db, clock, auditKeyPath(campus));
  const runs = new BillRuns({
    db,
    audit,
    tariffs,
    source: campusVee({ campus, store, db, audit, clock }),
    timezone: TZ,
    clock,
    ...(inThread
      ? {
          offload: (actor, input, table) =>
            runBillRunInThread({ campus, actor, ...input, tariffs: table, now: clock() }),
        }
      : {}),
  });
  const close = async () => {
    db.close();
    await store.close();
  };
  return { runs, audit, db, campus, store, close };
}
