import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadCampus } from '../../config/campus.ts';
import { parseBillingAccounts } from '../../services/money/billing/accounts.ts';
import { BillRuns, type BillRun } from '../../services/money/billing/bill-run.ts';
import { runBillRunInThread } from '../../services/money/billing/bill-run-job.ts';
import { parsePeriod } from '../../services/money/billing/period.ts';
import { parseTariffTable } from '../../services/money/billing/tariffs.ts';
import { openStore } from '../../services/metering/open-store.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { campusVee } from '../../services/metering/vee/campus.ts';
import { openAuditLog } from '../../services/platform/audit/audit-log.ts';
import { auditKeyPath, backofficePath } from '../../services/platform/audit/paths.ts';
import { openBackofficeDb, type BackofficeDb } from '../../services/platform/db.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import { tempCampusFile } from '../audit/helpers.ts';
import { fixtureTariffInput } from './fixture.ts';
import { billing, clerk } from './support.ts';

/**
 * A bill run on its own thread (bill-run-job.ts) against the same run in the back office's
 * thread, on two copies of one campus (the example campus file, a real SQLite store with ten days
 * of 15-minute readings, a real back-office database): the same lines, blocked meters and digest;
 * the back office's loop turns all through the threaded run; and the back office writing its
 * audit log all the while leaves one unbroken chain with both writers' entries.
 */

const TZ = 'Asia/Shanghai';
const STEP = 15 * 60_000;
const T0 = Date.UTC(2026, 9, 31, 16); // 2026-11-01 00:00 in Shanghai
const NOW = T0 + 11 * 86_400_000;
const silent = pino({ level: 'silent' });

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

const accounts = parseBillingAccounts({
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
const tariffs = parseTariffTable(fixtureTariffInput);
const period = parsePeriod('2026-11-02..2026-11-10', TZ);

const open: { db: BackofficeDb; close: () => Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    o.db.close();
    await o.close();
  }
});

/** A campus folder with the readings stored and the back office's database and audit key made. */
async function campusWithReadings(): Promise<string> {
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

async function backoffice(dir: string, inThread: boolean) {
  const campus = loadCampus(join(dir, 'campus.yaml'));
  const store = await openStore(campus, silent);
  const db = openBackofficeDb(backofficePath(campus));
  open.push({ db, close: () => store.close() });
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
  return { runs, audit };
}

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
