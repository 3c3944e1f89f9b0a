import { formatLocalTime } from '../../metering/consumption/local-time.ts';
import type { BillRun } from './bill-run.ts';
import { toCsv } from './csv.ts';
import type { FlagSummary } from './bill-run.ts';
import { formatFen, type Fen } from './money.ts';
import type { BillingPeriod } from './period.ts';
import {
  formatMilli,
  formatPrice,
  formatRegister,
  formatShare,
  tariffsInForce,
  type PricedTariff,
} from './prices-billed.ts';
import type { CustomerType, TariffTable, Utility } from './tariffs.ts';

export { formatPrice };

/**
 * The quarterly disclosure (DOMAIN.md "Readings and billing" 5): per account, the opening and
 * closing reading of each month, the tariff in force (components and prices, with their effective
 * dates) and the charges, as CSV and as a printable HTML page, in Chinese or English. It is built
 * from the quarter's recorded bill runs, so what is published is what was billed: the prices are
 * those each line was priced with (recorded on the line), the charge of every tariff component is
 * shown, estimated use is marked with its share, and a wrap, an exchange or a bad reading left out
 * is noted beside the reads it explains. Dates are in the campus zone; amounts are ¥ with two
 * decimals and registers with three, all formatted from integers.
 */

export const LANGUAGES = ['zh', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];

const LABELS = {
  title: { zh: '能源费用季度公示', en: 'Quarterly energy charges disclosure' },
  quarter: { zh: '季度', en: 'Quarter' },
  account: { zh: '户号', en: 'Account' },
  holder: { zh: '户名', en: 'Holder' },
  customerType: { zh: '用户类别', en: 'Customer type' },
  month: { zh: '月份', en: 'Month' },
  meter: { zh: '表号', en: 'Meter' },
  utility: { zh: '类别', en: 'Utility' },
  opening: { zh: '起码', en: 'Opening reading' },
  openingAt: { zh: '起码时间', en: 'Opening read at' },
  closing: { zh: '止码', en: 'Closing reading' },
  closingAt: { zh: '止码时间', en: 'Closing read at' },
  consumption: { zh: '用量', en: 'Consumption' },
  unit: { zh: '单位', en: 'Unit' },
  amountFen: { zh: '金额（分）', en: 'Amount (fen)' },
  amount: { zh: '金额', en: 'Amount' },
  tariff: { zh: '执行价格', en: 'Tariff in force' },
  from: { zh: '起', en: 'from' },
  quarterTotal: { zh: '季度合计', en: 'Quarter total' },
  notBilled: { zh: '未出账（待核实）', en: 'Not billed (under review)' },
  generated: { zh: '生成时间', en: 'Generated' },
  timezone: { zh: '时区', en: 'Time zone' },
  estimated: { zh: '估', en: 'est.' },
  upTo: { zh: '至', en: 'up to' },
  above: { zh: '以上', en: 'above' },
  estimatedShare: { zh: '估算占比', en: 'Estimated share' },
  notes: { zh: '说明', en: 'Notes' },
  charges: { zh: '分项金额', en: 'Charges by component' },
  rollover: { zh: '表码超过最大值归零（翻转）', en: 'register wrapped past its maximum' },
  exchanged: { zh: '换表或清零', en: 'meter exchanged or reset' },
  badReading: { zh: '剔除错误读数', en: 'bad reading left out' },
  adjustment: { zh: '更正', en: 'adjustment of' },
} as const satisfies Record<string, Record<Language, string>>;

const CUSTOMER_TYPE_LABELS: Record<CustomerType, Record<Language, string>> = {
  'student-room': { zh: '学生宿舍', en: 'Student room' },
  'staff-household': { zh: '教职工住户', en: 'Staff household' },
  business: { zh: '校内经营户', en: 'On-campus business' },
  external: { zh: '校外用户', en: 'External user' },
  'fully-recovered-unit': { zh: '全成本核算单位', en: 'Fully-recovered unit' },
  vendor: { zh: '外包服务商', en: 'Outsourced vendor' },
  public: { zh: '公共建筑', en: 'Public building' },
};
const UTILITY_LABELS: Record<Utility, Record<Language, string>> = {
  electricity: { zh: '电', en: 'Electricity' },
  water: { zh: '水', en: 'Water' },
  heat: { zh: '热', en: 'Heat' },
};
const COMPONENT_LABELS: Record<string, Record<Language, string>> = {
  energy: { zh: '电度电费', en: 'Energy' },
  water: { zh: '水费', en: 'Water' },
  'water-resource-fee': { zh: '水资源费', en: 'Water-resource fee' },
  'sewage-treatment-fee': { zh: '污水处理费', en: 'Sewage-treatment fee' },
  'campus-network-fee': { zh: '校园电网费', en: 'Campus network fee' },
  heat: { zh: '热费', en: 'Heat' },
};
const UNIT_LABELS: Record<string, Record<Language, string>> = {
  kWh: { zh: '千瓦时', en: 'kWh' },
  m3: { zh: '立方米', en: 'm³' },
};

const label = (key: keyof typeof LABELS, lang: Language) => LABELS[key][lang];
const componentLabel = (name: string, lang: Language) => COMPONENT_LABELS[name]?.[lang] ?? name;

/** ¥ with two decimals, from integer fen. */
export const yuan = (fen: Fen): string => `¥${formatFen(fen)}`;

export interface DisclosureMeterMonth {
  meter: string;
  utility: Utility;
  unit: string;
  opening: number | null;
  openingEstimated: boolean;
  closing: number | null;
  closingEstimated: boolean;
  quantityMilli: number;
  estimatedMilli: number;
  /** What explains the reads: a wrap, an exchange or reset, a bad reading left out. */
  notes: ('rollover' | 'exchanged' | 'badReading')[];
  /** On an adjustment line: the earlier period it corrects and why. */
  adjusts?: { period: string; reason: string };
  components: { name: string; amountFen: Fen }[];
  totalFen: Fen;
}

export type DisclosureTariff = PricedTariff;

export interface DisclosureAccount {
  account: string;
  holder: string;
  customerType: CustomerType;
  months: {
    period: BillingPeriod;
    run: string;
    meters: DisclosureMeterMonth[];
    notBilled: string[];
    totalFen: Fen;
  }[];
  tariffs: DisclosureTariff[];
  totalFen: Fen;
}

export interface Disclosure {
  quarter: BillingPeriod;
  timezone: string;
  accounts: DisclosureAccount[];
}

/** The notes column: what explains the reads, or which period an adjustment corrects and why. */
function notesText(x: DisclosureMeterMonth, lang: Language): string {
  const notes: string[] = x.notes.map((n) => label(n, lang));
  if (x.adjusts) notes.unshift(`${label('adjustment', lang)} ${x.adjusts.period}: ${x.adjusts.reason}`);
  return notes.join('; ');
}

function notesOf(flags: readonly FlagSummary[]): DisclosureMeterMonth['notes'] {
  const has = (rule: string) => flags.some((f) => f.rule === rule);
  const notes: DisclosureMeterMonth['notes'] = [];
  if (has('rollover')) notes.push('rollover');
  if (has('meter-replaced')) notes.push('exchanged');
  if (has('bad-reading')) notes.push('badReading');
  return notes;
}

/**
 * The disclosure of a quarter from its months' bill runs (one run per month, in order; the latest
 * run of each month is the one to publish).
 */
export function buildDisclosure(input: {
  quarter: BillingPeriod;
  runs: readonly BillRun[];
  tariffs: TariffTable;
  timezone: string;
}): Disclosure {
  const { quarter, runs, tariffs, timezone } = input;
  const accounts = new Map<string, DisclosureAccount>();
  for (const run of runs) {
    for (const a of run.accounts) {
      if (!accounts.has(a.id)) {
        accounts.set(a.id, {
          account: a.id,
          holder: a.holder,
          customerType: a.customerType,
          months: [],
          tariffs: [],
          totalFen: 0,
        });
      }
      const d = accounts.get(a.id)!;
      const lines = run.lines.filter((l) => l.account === a.id);
      const totalFen = lines.reduce((s, l) => s + l.totalFen, 0);
      d.months.push({
        period: run.period,
        run: run.id,
        meters: lines.map((l) => ({
          meter: l.meter,
          utility: l.utility,
          unit: l.unit,
          opening: l.opening,
          openingEstimated: l.openingEstimated,
          closing: l.closing,
          closingEstimated: l.closingEstimated,
          quantityMilli: l.quantityMilli,
          estimatedMilli: l.estimatedMilli,
          notes: notesOf(l.flags),
          ...(l.adjusts ? { adjusts: { period: l.adjusts.period.label, reason: l.adjusts.reason } } : {}),
          components: l.components,
          totalFen: l.totalFen,
        })),
        notBilled: run.blocked.filter((b) => b.account === a.id).map((b) => b.meter),
        totalFen,
      });
      d.totalFen += totalFen;
    }
  }
  // The prices each line was billed at; the table given is only read for runs recorded before
  // lines carried their prices.
  for (const d of accounts.values()) {
    const seen = new Map<string, DisclosureTariff>();
    for (const run of runs) {
      const account = run.accounts.find((a) => a.id === d.account);
      for (const l of run.lines.filter((x) => x.account === d.account)) {
        const prices =
          l.prices ?? tariffsInForce(tariffs, l.utility, d.customerType, run.period.from, run.period.to);
        for (const p of prices) seen.set(`${p.utility}/${p.effectiveFrom}`, p);
      }
      if (account && run.lines.every((x) => x.account !== d.account)) {
        for (const m of account.meters)
          for (const p of tariffsInForce(tariffs, m.utility, d.customerType, run.period.from, run.period.to))
            if (!seen.has(`${p.utility}/${p.effectiveFrom}`)) seen.set(`${p.utility}/${p.effectiveFrom}`, p);
      }
    }
    d.tariffs = [...seen.values()].sort(
      (a, b) => a.utility.localeCompare(b.utility) || a.effectiveFrom.localeCompare(b.effectiveFrom),
    );
  }
  return { quarter, timezone, accounts: [...accounts.values()] };
}

function tariffText(t: DisclosureTariff, lang: Language): string {
  const unit = UNIT_LABELS[t.unit]?.[lang] ?? t.unit;
  const parts = t.components.map((c) => {
    const prices =
      c.tiers.length === 1
        ? `${c.tiers[0]!.price}`
        : c.tiers
            .map((tier, i) => {
              const limit = (milli: number) => formatMilli(milli).replace(/\.?0+$/, '');
              if (tier.upToMilli !== null)
                return `${label('upTo', lang)} ${limit(tier.upToMilli)} ${tier.price}`;
              const lower = limit(c.tiers[i - 1]?.upToMilli ?? 0);
              return lang === 'zh'
                ? `${lower}${label('above', lang)} ${tier.price}`
                : `above ${lower} ${tier.price}`;
            })
            .join(', ');
    return `${componentLabel(c.name, lang)} ${prices}`;
  });
  return `${UTILITY_LABELS[t.utility][lang]}: ${parts.join('; ')} (${lang === 'zh' ? '元/' : 'yuan/'}${unit}, ${label('from', lang)} ${t.effectiveFrom})`;
}

/** Every component's charge: "水费 ¥98.98; 水资源费 ¥15.47; …". */
function chargesText(x: DisclosureMeterMonth, lang: Language): string {
  return x.components.map((c) => `${componentLabel(c.name, lang)} ${yuan(c.amountFen)}`).join('; ');
}

/** The consumption, with the estimated share beside it when some of it was estimated. */
function consumptionText(x: DisclosureMeterMonth, lang: Language): string {
  const q = formatMilli(x.quantityMilli);
  return x.estimatedMilli > 0
    ? `${q} (${label('estimated', lang)} ${formatShare(x.estimatedMilli, x.quantityMilli)})`
    : q;
}

/** One row per account, month and meter; the tariff in force in a column. */
export function disclosureCsv(d: Disclosure, lang: Language): string {
  const tz = d.timezone;
  const header = [
    label('quarter', lang),
    label('account', lang),
    label('holder', lang),
    label('customerType', lang),
    label('month', lang),
    label('meter', lang),
    label('utility', lang),
    label('openingAt', lang),
    label('opening', lang),
    label('closingAt', lang),
    label('closing', lang),
    label('consumption', lang),
    label('estimatedShare', lang),
    label('unit', lang),
    label('notes', lang),
    label('charges', lang),
    label('amountFen', lang),
    label('amount', lang),
    label('tariff', lang),
  ];
  const rows = d.accounts.flatMap((a) =>
    a.months.flatMap((m) =>
      m.meters.map((x) => [
        d.quarter.label,
        a.account,
        a.holder,
        CUSTOMER_TYPE_LABELS[a.customerType][lang],
        m.period.label,
        x.meter,
        UTILITY_LABELS[x.utility][lang],
        formatLocalTime(m.period.from, tz),
        x.opening === null
          ? null
          : `${formatRegister(x.opening)}${x.openingEstimated ? ` (${label('estimated', lang)})` : ''}`,
        formatLocalTime(m.period.to, tz),
        x.closing === null
          ? null
          : `${formatRegister(x.closing)}${x.closingEstimated ? ` (${label('estimated', lang)})` : ''}`,
        formatMilli(x.quantityMilli),
        x.estimatedMilli > 0 ? formatShare(x.estimatedMilli, x.quantityMilli) : null,
        UNIT_LABELS[x.unit]?.[lang] ?? x.unit,
        notesText(x, lang),
        chargesText(x, lang),
        x.totalFen,
        yuan(x.totalFen),
        a.tariffs
          .filter((t) => t.utility === x.utility)
          .map((t) => tariffText(t, lang))
          .join(' | '),
      ]),
    ),
  );
  return toCsv(header, rows);
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const esc = (v: unknown): string => String(v ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** A printable page: one section per account, every text escaped. */
export function disclosureHtml(d: Disclosure, lang: Language, generatedAt: number): string {
  const tz = d.timezone;
  const L = (k: keyof typeof LABELS) => esc(label(k, lang));
  const sections = d.accounts.map((a) => {
    const rows = a.months.flatMap((m) =>
      m.meters.map(
        (x) =>
          `<tr><td>${esc(m.period.label)}</td><td>${esc(x.meter)}</td><td>${esc(UTILITY_LABELS[x.utility][lang])}</td>` +
          `<td class="n">${esc(formatRegister(x.opening))}${x.openingEstimated ? ` <small>${L('estimated')}</small>` : ''}</td>` +
          `<td class="n">${esc(formatRegister(x.closing))}${x.closingEstimated ? ` <small>${L('estimated')}</small>` : ''}</td>` +
          `<td class="n">${esc(consumptionText(x, lang))}</td><td>${esc(UNIT_LABELS[x.unit]?.[lang] ?? x.unit)}</td>` +
          `<td>${esc(notesText(x, lang))}</td><td>${esc(chargesText(x, lang))}</td>` +
          `<td class="n">${esc(yuan(x.totalFen))}</td></tr>`,
      ),
    );
    const notBilled = a.months.flatMap((m) => m.notBilled.map((meter) => `${m.period.label} ${meter}`));
    return `<section>
<h2>${esc(a.account)} · ${esc(a.holder)} · ${esc(CUSTOMER_TYPE_LABELS[a.customerType][lang])}</h2>
<table>
<thead><tr><th>${L('month')}</th><th>${L('meter')}</th><th>${L('utility')}</th><th>${L('opening')}</th><th>${L('closing')}</th><th>${L('consumption')}</th><th>${L('unit')}</th><th>${L('notes')}</th><th>${L('charges')}</th><th>${L('amount')}</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
<tfoot><tr><th colspan="9">${L('quarterTotal')}</th><th class="n">${esc(yuan(a.totalFen))}</th></tr></tfoot>
</table>
<p>${L('tariff')}:</p>
<ul>
${a.tariffs.map((t) => `<li>${esc(tariffText(t, lang))}</li>`).join('\n')}
</ul>
${notBilled.length > 0 ? `<p>${L('notBilled')}: ${esc(notBilled.join(', '))}</p>` : ''}
</section>`;
  });
  return `<!doctype html>
<html lang="${lang === 'zh' ? 'zh-CN' : 'en'}">
<head>
<meta charset="utf-8">
<title>${L('title')} ${esc(d.quarter.label)}</title>
<style>
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 1.5cm; }
table { border-collapse: collapse; width: 100%; margin-bottom: 0.5em; }
th, td { border: 1px solid #444; padding: 2px 6px; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
section { page-break-inside: avoid; margin-bottom: 1.5em; }
@media print { body { margin: 0; } }
</style>
</head>
<body>
<h1>${L('title')} ${esc(d.quarter.label)}</h1>
<p>${L('quarter')}: ${esc(formatLocalTime(d.quarter.from, tz))} – ${esc(formatLocalTime(d.quarter.to, tz))} · ${L('timezone')}: ${esc(tz)} · ${L('generated')}: ${esc(formatLocalTime(generatedAt, tz))}</p>
${sections.join('\n')}
</body>
</html>
`;
}
