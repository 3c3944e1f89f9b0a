import { toCsv } from '../billing/csv.ts';
import { formatFen, type Fen } from '../billing/money.ts';
import { formatMilli } from '../billing/prices-billed.ts';
import type { BillRun } from '../billing/bill-run.ts';
import { isoDate } from './calendar.ts';
import type { NoticeState } from './types.ts';

/**
 * What is printed and exported: payment notices as one HTML document with a page per door (each
 * with its signature line, in Chinese or English), and the payroll deduction list as CSV. Every
 * amount is printed from integer fen by formatFen, never through a float.
 */

export const NOTICE_LANGUAGES = ['zh', 'en'] as const;
export type NoticeLanguage = (typeof NOTICE_LANGUAGES)[number];

const WORDS = {
  zh: {
    title: '能源费用缴费通知单',
    number: '通知单号',
    account: '户号',
    holder: '户名',
    period: '计费期',
    meter: '表号',
    utility: '类别',
    quantity: '用量',
    amount: '金额（元）',
    fee: '应缴费用（元）',
    paid: '已缴（元）',
    credit: '其中预存抵扣（元）',
    due: '缴费截止日',
    owing: '尚欠（元）',
    adjusted: '经异议复核后的金额',
    blocked: '以下表计读数待核实，本期未计费，核实后另行计收：',
    where: '请于截止日前到营业厅缴费（现金、银行卡或转账）。逾期将按学校能源管理规定催缴并收取滞纳金。',
    sign: '签收人',
    date: '签收日期',
    deliveredBy: '送达人',
    utilities: { electricity: '电', water: '水', heat: '热' } as Record<string, string>,
    contract: '按合同',
  },
  en: {
    title: 'Energy charges: payment notice',
    number: 'Notice no.',
    account: 'Account',
    holder: 'Holder',
    period: 'Period',
    meter: 'Meter',
    utility: 'Utility',
    quantity: 'Quantity',
    amount: 'Amount (CNY)',
    fee: 'Amount due (CNY)',
    paid: 'Paid (CNY)',
    credit: 'of which credit set off (CNY)',
    due: 'Pay by',
    owing: 'Still owing (CNY)',
    adjusted: 'Amount after review of an objection',
    blocked: 'Not billed this period, readings under review (billed once resolved):',
    where:
      'Please pay at the business office by the date above (cash, card or bank transfer). Late payment is chased and penalised under the university’s energy rules.',
    sign: 'Received by (signature)',
    date: 'Date received',
    deliveredBy: 'Delivered by',
    utilities: { electricity: 'Electricity', water: 'Water', heat: 'Heating' } as Record<string, string>,
    contract: 'by contract',
  },
} as const;

/** The contract a heating line is charged by (fees.ts names its component so), if it is one. */
const CONTRACT_COMPONENT = /^heating-contract (.+)$/;

/**
 * A line's quantity as printed. A heating line under contract has no area (its quantity is 0):
 * it reads as its contract, never "0.000 m2". A certified area is in hundredths of m² and reads so.
 */
function quantityText(l: BillRun['lines'][number], w: (typeof WORDS)[NoticeLanguage]): string {
  if (l.unit !== 'm2') return `${formatMilli(l.quantityMilli)} ${l.unit}`;
  const contract = l.components.map((c) => CONTRACT_COMPONENT.exec(c.name)?.[1]).find(Boolean);
  if (contract !== undefined) return `${w.contract} ${contract}`;
  const centi = Math.round(l.quantityMilli / 10);
  return `${Math.floor(centi / 100)}.${String(centi % 100).padStart(2, '0')} m²`;
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** One HTML document, a page per notice (door), ready to print. */
export function noticesHtml(
  notices: readonly NoticeState[],
  run: BillRun,
  lang: NoticeLanguage,
  tz: string,
): string {
  const w = WORDS[lang];
  const pages = notices.map((n) => {
    const lines = run.lines.filter((l) => l.account === n.account);
    const billed = lines.reduce((s, l) => s + l.totalFen, 0);
    const credit = n.payments.filter((p) => p.method === 'credit').reduce((s, p) => s + p.principalFen, 0);
    const rows = lines
      .map(
        (l) =>
          `<tr><td>${esc(l.meter)}</td><td>${esc(w.utilities[l.utility] ?? l.utility)}</td>` +
          `<td class="num">${esc(quantityText(l, w))}</td><td class="num">${formatFen(l.totalFen)}</td></tr>`,
      )
      .join('');
    const blocked = run.blocked.filter((b) => b.account === n.account).map((b) => b.meter);
    const blockedNote = blocked.length
      ? `<p class="blocked">${esc(w.blocked)} ${blocked.map(esc).join(', ')}</p>`
      : '';
    const adjusted =
      billed !== n.feeFen ? `<p class="adjusted">${esc(w.adjusted)}: ${formatFen(n.feeFen)}</p>` : '';
    return `<section class="notice" data-notice="${esc(n.number)}" data-account="${esc(n.account)}">
<h1>${esc(w.title)}</h1>
<dl>
<dt>${esc(w.number)}</dt><dd>${esc(n.number)}</dd>
<dt>${esc(w.account)}</dt><dd>${esc(n.account)}</dd>
<dt>${esc(w.holder)}</dt><dd>${esc(n.holder)}</dd>
<dt>${esc(w.period)}</dt><dd>${esc(n.period)}</dd>
</dl>
<table><thead><tr><th>${esc(w.meter)}</th><th>${esc(w.utility)}</th><th>${esc(w.quantity)}</th><th>${esc(w.amount)}</th></tr></thead>
<tbody>${rows}</tbody></table>
${adjusted}
${blockedNote}
<p class="fee"><strong>${esc(w.fee)}: <span data-fen="${n.feeFen}">${formatFen(n.feeFen)}</span></strong>${
      credit > 0 ? ` (${esc(w.credit)}: ${formatFen(credit)})` : ''
    }</p>
<p class="owing">${esc(w.owing)}: <span data-fen="${n.principalDueFen}">${formatFen(n.principalDueFen)}</span></p>
<p class="due">${esc(w.due)}: ${esc(n.dueDate)}</p>
<p class="where">${esc(w.where)}</p>
<p class="signature">${esc(w.sign)}: ______________________ &nbsp; ${esc(w.date)}: ____________ &nbsp; ${esc(w.deliveredBy)}: ______________</p>
<p class="issued">${esc(isoDate(n.issuedAt, tz))}</p>
</section>`;
  });
  return `<!doctype html>
<html lang="${lang === 'zh' ? 'zh-CN' : 'en'}"><head><meta charset="utf-8"><title>${esc(w.title)}</title>
<style>
body{font-family:sans-serif;margin:0}
.notice{padding:2cm;page-break-after:always;break-after:page}
.notice:last-child{page-break-after:auto;break-after:auto}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #444;padding:4px}.num{text-align:right}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em}
.signature{margin-top:2cm}
</style></head><body>
${pages.join('\n')}
</body></html>
`;
}

export interface PayrollRow {
  payrollCode: string;
  account: string;
  holder: string;
  period: string;
  feeFen: Fen;
  creditFen: Fen;
  deductFen: Fen;
}

/** The payroll deduction list for finance: fen as integers, with yuan formatted from them. */
export function payrollCsv(rows: readonly PayrollRow[]): string {
  return toCsv(
    ['payroll_code', 'account', 'holder', 'period', 'fee_fen', 'credit_fen', 'deduct_fen', 'deduct_yuan'],
    rows.map((r) => [
      r.payrollCode,
      r.account,
      r.holder,
      r.period,
      r.feeFen,
      r.creditFen,
      r.deductFen,
      formatFen(r.deductFen),
    ]),
  );
}
