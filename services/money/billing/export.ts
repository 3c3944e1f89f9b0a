import { formatLocalTime } from '../../metering/consumption/local-time.ts';
import type { BillRun, MeterBill } from './bill-run.ts';
import { toCsv } from './csv.ts';
import { formatFen, type Fen } from './money.ts';
import { formatMilli, formatRegister, formatShare } from './prices-billed.ts';

/**
 * What finance gets from a bill run (DOMAIN.md "Readings and billing" 3): every line as CSV or
 * JSON, and the run split into the payroll-deduction list (accounts with a payroll code) and the
 * payment-notice list (everyone else, a notice delivered to the door). Money is integer fen in
 * every figure column, with a yuan column for people, formatted from the integer.
 */

export { formatMilli };

/**
 * Why a closing read may be below the opening one, or a read is missing from the sum, in words:
 * the register wrapped, the meter was exchanged or reset, a bad reading was left out.
 */
export function registerNotes(l: Pick<MeterBill, 'flags'>): string[] {
  const days = (rule: string) => l.flags.find((f) => f.rule === rule)?.days ?? 0;
  const notes: string[] = [];
  if (days('rollover')) notes.push(`register wrapped past its maximum (${days('rollover')} d)`);
  if (days('meter-replaced')) notes.push(`meter exchanged or reset (${days('meter-replaced')} d)`);
  if (days('bad-reading')) notes.push(`bad reading left out (${days('bad-reading')} d)`);
  return notes;
}

/** Component names in the order they first appear in the run's lines. */
function componentNames(lines: readonly MeterBill[]): string[] {
  const names: string[] = [];
  for (const l of lines) for (const c of l.components) if (!names.includes(c.name)) names.push(c.name);
  return names;
}

/** One row per billed meter; then one row per blocked meter with its reasons and no amounts. */
export function billRunCsv(run: BillRun): string {
  const tz = run.timezone;
  const names = componentNames(run.lines);
  const header = [
    'bill run',
    'period',
    `from (${tz})`,
    `to (${tz})`,
    'account',
    'holder',
    'customer type',
    'payroll code',
    'meter',
    'utility',
    'unit',
    'opening',
    'opening estimated',
    'closing',
    'closing estimated',
    'consumption',
    'estimated',
    'edited',
    'estimated share',
    'register difference',
    'flags',
    'notes',
    ...names.map((n) => `${n} (fen)`),
    'total (fen)',
    'total (yuan)',
    'status',
  ];
  const head = [
    run.id,
    run.period.label,
    formatLocalTime(run.period.from, tz),
    formatLocalTime(run.period.to, tz),
  ];
  const rows = run.lines.map((l) => [
    ...head,
    l.account,
    l.holder,
    l.customerType,
    l.payrollCode,
    l.meter,
    l.utility,
    l.unit,
    formatRegister(l.opening),
    l.openingEstimated ? 'yes' : 'no',
    formatRegister(l.closing),
    l.closingEstimated ? 'yes' : 'no',
    formatMilli(l.quantityMilli),
    formatMilli(l.estimatedMilli),
    formatMilli(l.editedMilli),
    formatShare(l.estimatedMilli, l.quantityMilli),
    l.registerDifferenceMilli === null ? null : formatMilli(l.registerDifferenceMilli),
    l.flags.map((f) => `${f.rule}:${f.severity}×${f.days}`).join(' '),
    registerNotes(l).join('; '),
    ...names.map((n) => l.components.find((c) => c.name === n)?.amountFen ?? null),
    l.totalFen,
    formatFen(l.totalFen),
    l.adjusts ? `adjustment of ${l.adjusts.period.label} (${l.adjusts.run}): ${l.adjusts.reason}` : 'billed',
  ]);
  const account = new Map(run.accounts.map((a) => [a.id, a]));
  for (const b of run.blocked) {
    const a = account.get(b.account);
    rows.push([
      ...head,
      b.account,
      a?.holder ?? null,
      a?.customerType ?? null,
      a?.payrollCode ?? null,
      b.meter,
      b.utility,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      [...b.reasons, ...b.days.map((d) => `${formatLocalTime(d.start, tz).slice(0, 10)}: ${d.problem}`)].join(
        '; ',
      ),
      ...names.map(() => null),
      null,
      null,
      'blocked',
    ]);
  }
  return toCsv(header, rows);
}

export function billRunJson(run: BillRun): string {
  return `${JSON.stringify(run, null, 2)}\n`;
}

export interface AccountTotal {
  account: string;
  holder: string;
  customerType: string;
  payrollCode: string | null;
  totalFen: Fen;
  lines: MeterBill[];
  /** Meters of the account the run could not bill: the total leaves them out. */
  blockedMeters: string[];
}

function byAccount(run: BillRun): AccountTotal[] {
  const out = new Map<string, AccountTotal>();
  for (const a of run.accounts) {
    out.set(a.id, {
      account: a.id,
      holder: a.holder,
      customerType: a.customerType,
      payrollCode: a.payrollCode ?? null,
      totalFen: 0,
      lines: [],
      blockedMeters: [],
    });
  }
  for (const l of run.lines) {
    const t = out.get(l.account)!;
    t.totalFen += l.totalFen;
    t.lines.push(l);
  }
  for (const b of run.blocked) out.get(b.account)?.blockedMeters.push(b.meter);
  return [...out.values()];
}

/** Accounts with a payroll code: deducted from salary. */
export function payrollDeductions(run: BillRun): AccountTotal[] {
  return byAccount(run).filter((a) => a.payrollCode !== null);
}

/** Accounts without a payroll code: a payment notice delivered to the door, paid at the office. */
export function paymentNotices(run: BillRun): AccountTotal[] {
  return byAccount(run).filter((a) => a.payrollCode === null);
}

export function payrollCsv(run: BillRun): string {
  return toCsv(
    [
      'bill run',
      'period',
      'payroll code',
      'account',
      'holder',
      'amount (fen)',
      'amount (yuan)',
      'meters not billed',
    ],
    payrollDeductions(run).map((a) => [
      run.id,
      run.period.label,
      a.payrollCode,
      a.account,
      a.holder,
      a.totalFen,
      formatFen(a.totalFen),
      a.blockedMeters.join(' '),
    ]),
  );
}

export function noticesCsv(run: BillRun): string {
  return toCsv(
    [
      'bill run',
      'period',
      'account',
      'holder',
      'customer type',
      'meter',
      'utility',
      'opening',
      'closing',
      'consumption',
      'amount (fen)',
      'amount (yuan)',
      'account total (fen)',
      'account total (yuan)',
      'meters not billed',
    ],
    paymentNotices(run).flatMap((a) =>
      (a.lines.length > 0 ? a.lines : [null]).map((l) => [
        run.id,
        run.period.label,
        a.account,
        a.holder,
        a.customerType,
        l?.meter,
        l?.utility,
        l ? formatRegister(l.opening) : null,
        l ? formatRegister(l.closing) : null,
        l ? formatMilli(l.quantityMilli) : null,
        l?.totalFen,
        l ? formatFen(l.totalFen) : null,
        a.totalFen,
        formatFen(a.totalFen),
        a.blockedMeters.join(' '),
      ]),
    ),
  );
}

export const EXPORT_LISTS = ['all', 'payroll', 'notices'] as const;
export type ExportList = (typeof EXPORT_LISTS)[number];

/** The run, or one of its lists, as CSV or JSON. */
export function exportRun(run: BillRun, format: 'csv' | 'json', list: ExportList = 'all'): string {
  if (format === 'json') {
    if (list === 'all') return billRunJson(run);
    const accounts = list === 'payroll' ? payrollDeductions(run) : paymentNotices(run);
    return `${JSON.stringify({ id: run.id, period: run.period, accounts }, null, 2)}\n`;
  }
  return list === 'all' ? billRunCsv(run) : list === 'payroll' ? payrollCsv(run) : noticesCsv(run);
}
