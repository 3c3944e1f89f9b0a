import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import type { LoadedCampus } from '../../../config/campus.ts';
import { openAuditLog } from '../../platform/audit/audit-log.ts';
import { auditKeyPath } from '../../platform/audit/paths.ts';
import type { Actor, Role } from '../../platform/auth/roles.ts';
import type { BackofficeDb } from '../../platform/db.ts';
import { floorToStep, wallClock } from '../../metering/consumption/zone.ts';
import type { ReadingStore } from '../../metering/storage.ts';
import { campusVee } from '../../metering/vee/campus.ts';
import { parsePeriod } from '../../money/billing/period.ts';
import { TariffStore } from '../../money/billing/tariff-store.ts';
import type { NoticeState } from '../../money/collection/types.ts';
import { parseHalfMonth } from '../../money/reconciliation/half-month.ts';
import { createBilling } from '../parts/billing.ts';
import { createCollection } from '../parts/collection.ts';
import { DEMO_BUSINESS, DEMO_POSTPAID } from './rulebook-data.ts';

/**
 * The demo's half month of post-paid billing and collection, played through the services' own
 * methods on a clock that walks the demo's history (as the demo's prepaid accounts are opened "back
 * then"): the first three full days billed by demo.billing, the fee table published and, after its
 * day for objections, confirmed; payment notices issued; the canteen and one household pay in
 * full, one household in part, one not at all and is reminded once overdue; staff with a payroll
 * code are on the payroll list. The last half month that has ended is reconciled: finance enters
 * the cash and bank records (the cash ¥5.00 short, as a counted float often is), the inspection
 * department its list, the clerk prepares the report, explains the difference and signs first;
 * the assistant and the supervisor sign in the web app. What remains to bill (the days after the
 * first run up to today) is left for billing to run from the Billing page.
 */

const HOUR = 3_600_000;
const DAY = 86_400_000;

export interface HalfMonthSeed {
  campus: LoadedCampus;
  db: BackofficeDb;
  store: ReadingStore;
  /** The history's first reading (UTC ms) and now. */
  start: number;
  now: number;
}

export interface HalfMonthResult {
  billedPeriod: string | null;
  readyPeriod: string | null;
  notices: { number: string; account: string; state: string }[];
  reconciliation: string | null;
  lines: string[];
}

const person = (id: string, role: Role): Actor => ({ id, kind: 'user', roles: [role] });
const billing = person('demo.billing', 'billing');
const clerk = person('demo.clerk', 'clerk');
const finance = person('demo.finance', 'finance');
const inspector = person('demo.inspector', 'inspector');

/** Writes the demo's post-paid accounts next to the campus file, once (billing reads them there). */
export function writeDemoAccounts(campus: LoadedCampus): string {
  const file = join(dirname(campus.file), 'billing-accounts.yaml');
  if (existsSync(file)) return file;
  const accounts = [
    ...DEMO_POSTPAID.map((a) => ({
      id: a.id,
      holder: a.holder,
      customerType: 'staff-household',
      ...('payrollCode' in a ? { payrollCode: a.payrollCode } : {}),
      meters: [{ meter: `E-${a.household}`, utility: 'electricity' }],
    })),
    {
      id: DEMO_BUSINESS.id,
      holder: DEMO_BUSINESS.holder,
      customerType: 'business',
      meters: [{ meter: DEMO_BUSINESS.meter, utility: 'electricity' }],
    },
  ];
  writeFileSync(file, stringify({ accounts }));
  return file;
}

const localDate = (ts: number, tz: string) => {
  const w = wallClock(ts, tz);
  return `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
};

/** The half month that ended last before `ts`, e.g. 2026-11-H2. */
function lastEndedHalf(ts: number, tz: string): string {
  const w = wallClock(ts, tz);
  if (w.day >= 16) return `${w.year}-${String(w.month).padStart(2, '0')}-H1`;
  const y = w.month === 1 ? w.year - 1 : w.year;
  const m = w.month === 1 ? 12 : w.month - 1;
  return `${y}-${String(m).padStart(2, '0')}-H2`;
}

export async function seedHalfMonth(s: HalfMonthSeed): Promise<HalfMonthResult> {
  const tz = s.campus.config.campus.timezone;
  const time = { at: s.start };
  const clock = () => time.at;
  const at = (ts: number) => (time.at = Math.max(time.at, Math.min(ts, s.now - HOUR)));
  const audit = openAuditLog(s.db, clock, auditKeyPath(s.campus));
  const vee = campusVee({ campus: s.campus, store: s.store, db: s.db, audit, clock });
  const tariffs = new TariffStore({ db: s.db, audit, clock });
  const bills = createBilling({ campus: s.campus, db: s.db, audit, clock, tariffs, vee });
  const money = createCollection({ campus: s.campus, db: s.db, audit, clock, billRuns: bills.billRuns });
  const result: HalfMonthResult = {
    billedPeriod: null,
    readyPeriod: null,
    notices: [],
    reconciliation: null,
    lines: [],
  };
  const d0 = floorToStep(s.start, '1d', tz) + DAY;
  const today = floorToStep(s.now, '1d', tz);
  if (today - d0 < 6 * DAY) {
    result.lines.push('history too short for a bill cycle (6 full days needed)');
    return result;
  }
  const billedTo = d0 + 3 * DAY;
  const period = parsePeriod(`${localDate(d0, tz)}..${localDate(billedTo, tz)}`, tz);
  result.billedPeriod = period.label;
  result.readyPeriod = `${localDate(billedTo, tz)}..${localDate(today, tz)}`;

  at(billedTo + 9 * HOUR);
  const run = await bills.billRuns.run(billing, { period, accounts: bills.accounts() });
  const table = money.collection.publish(billing, { run: run.id });
  at(table.objectionsUntil + HOUR);
  money.collection.confirm(billing, table.id);
  const notices = money.collection.notices(table.id);
  at(time.at + 2 * HOUR);
  const byAccount = new Map(notices.map((n) => [n.account, n]));
  let receipt = 0;
  for (const a of [...DEMO_POSTPAID, DEMO_BUSINESS]) {
    const n = byAccount.get(a.id);
    if (!n || !('pays' in a) || a.pays === 'none') continue;
    const amountFen = a.pays === 'full' ? n.feeFen : Math.max(1, Math.floor(n.feeFen / 2));
    const method = a.id === DEMO_BUSINESS.id ? 'transfer' : a.pays === 'full' ? 'card' : 'cash';
    money.collection.pay(clerk, {
      ...{ notice: n.number, account: n.account, period: n.period, method, amountFen },
      reference: `DEMO-${method.toUpperCase()}-${String(++receipt).padStart(4, '0')}`,
    });
    at(time.at + 40 * 60_000);
  }
  // Reminded once the due day is over, for what is still owed.
  const due = Math.max(...notices.map((n) => n.dueAt), 0);
  const half = parseHalfMonth(lastEndedHalf(s.now - HOUR, tz), tz);
  const remind = () => {
    for (const n of money.collection.notices(table.id))
      if (n.outstandingFen > 0 && n.principalDueFen === n.feeFen)
        money.collection.remind(clerk, { notice: n.number, channel: 'door', note: '上门送达催缴通知' });
  };
  // In the order they happen: the clock only moves forward, and never past an hour ago.
  const events: [number, () => void][] = [
    [half.to + HOUR, () => reconcileHalf(money, half.label, half.to, at, result)],
  ];
  if (due + 10 * HOUR < s.now - HOUR) events.push([due + 10 * HOUR, remind]);
  for (const [ts, fn] of events.sort((a, b) => a[0] - b[0])) {
    at(ts);
    fn();
  }
  result.notices = money.collection.notices(table.id, s.now).map((n) => ({
    number: n.number,
    account: n.account,
    state: noticeState(n),
  }));
  result.lines.push(
    `post-paid: ${period.label} billed (${run.id}, ¥${(run.totalFen / 100).toFixed(2)}), fee table confirmed, ${notices.length} payment notices: ${result.notices.map((n) => `${n.account} ${n.state}`).join(', ')}`,
    `billing: ${result.readyPeriod} is ready to bill (Billing page: run it, export, enter the power company's invoice for SP-EAST-POWER)`,
  );
  if (result.reconciliation) result.lines.push(`reconciliation: ${result.reconciliation}`);
  return result;
}

function noticeState(n: NoticeState): string {
  if (n.outstandingFen === 0) return 'paid';
  if (n.paidPrincipalFen > 0) return n.daysOverdue > 0 ? 'part paid, overdue' : 'part paid';
  return n.daysOverdue > 0 ? 'overdue' : 'unpaid';
}

/**
 * Finance's records and the inspection department's list for the half month, then the report:
 * prepared, its one difference explained, signed by the clerk. Skipped if the half month was
 * already reconciled (nothing is entered twice) or the clock cannot reach its end yet.
 */
function reconcileHalf(
  money: ReturnType<typeof createCollection>,
  label: string,
  end: number,
  at: (ts: number) => number,
  result: HalfMonthResult,
): void {
  const r = money.reconciliation;
  if (r.reports(label).length > 0) return;
  if (at(end + HOUR) < end) return;
  const figures = r.compute(r.half(label));
  for (const method of ['cash', 'card', 'transfer'] as const) {
    const fen =
      figures.takings.net[method] - (method === 'cash' && figures.takings.net.cash >= 500 ? 500 : 0);
    if (fen !== 0)
      r.recordFinance(finance, {
        half: label,
        method,
        amountFen: fen,
        reference: `DEMO-${method.toUpperCase()}-${label}`,
      });
  }
  for (const [notice, fen] of Object.entries(figures.takings.perNotice))
    r.recordInspection(inspector, { half: label, notice, amountFen: fen, note: '稽查部门收款登记' });
  const report = r.prepare(clerk, { half: label });
  for (const d of report.figures.differences)
    r.explain(clerk, report.id, {
      key: d.key,
      text:
        d.key === 'method:cash' ? '备用金点钞短款 5.00 元，已由营业员补齐（收据 DEMO-SHORT-1）' : '见附件',
    });
  const signed = r.sign(clerk, report.id);
  result.reconciliation = `${label} report #${signed.id} prepared (takings ¥${(signed.figures.takings.totalFen / 100).toFixed(2)}, ${signed.figures.differences.length} difference(s) explained), signed by the clerk; the assistant and the supervisor sign next`;
}
