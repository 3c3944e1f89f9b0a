import { formatLocalTime } from '../../metering/consumption/local-time.ts';
import type { BillRun } from './bill-run.ts';
import { toCsv } from './csv.ts';
import { formatMilli } from './export.ts';
import { formatFen, type Fen } from './money.ts';
import type { BillingPeriod } from './period.ts';
import { tariffVersions, type CustomerType, type TariffTable, type Utility } from './tariffs.ts';

/**
 * The quarterly disclosure (DOMAIN.md "Readings and billing" 5): per account, the opening and
 * closing reading of each month, the tariff in force (components and prices, with their effective
 * dates) and the charges, as CSV and as a printable HTML page, in Chinese or English. It is built
 * from the quarter's recorded bill runs, so what is published is what was billed. Dates are in the
 * campus zone; amounts are ¥ with two decimals formatted from integer fen.
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

/** A price in milli-fen per unit (0.00001 yuan) as yuan, at least two decimals: 58830 → "0.5883". */
export function formatPrice(milliFen: number): string {
  const whole = Math.floor(milliFen / 100_000);
  let frac = String(milliFen % 100_000).padStart(5, '0');
  while (frac.length > 2 && frac.endsWith('0')) frac = frac.slice(0, -1);
  return `${whole}.${frac}`;
}

export interface DisclosureMeterMonth {
  meter: string;
  utility: Utility;
  unit: string;
  opening: number | null;
  openingEstimated: boolean;
  closing: number | null;
  closingEstimated: boolean;
  quantityMilli: number;
  components: { name: string; amountFen: Fen }[];
  totalFen: Fen;
}

export interface DisclosureTariff {
  utility: Utility;
  effectiveFrom: string;
  unit: string;
  components: { name: string; tiers: { upToMilli: number | null; price: string }[] }[];
}

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

/** The tariff versions of a utility and customer type that are in force at some time in [from, to). */
function tariffsInForce(
  table: TariffTable,
  utility: Utility,
  customerType: CustomerType,
  from: number,
  to: number,
): DisclosureTariff[] {
  const versions = tariffVersions(table, utility, customerType);
  return versions
    .filter((v, i) => v.from < to && (versions[i + 1]?.from ?? Infinity) > from)
    .map((v) => ({
      utility,
      effectiveFrom: v.effectiveFrom,
      unit: v.unit,
      components: v.components.map((c) => ({
        name: c.name,
        tiers: c.tiers.map((t) => ({
          upToMilli: t.upTo === null ? null : Number(t.upTo),
          price: formatPrice(Number(t.priceMilliFen)),
        })),
      })),
    }));
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
          components: l.components,
          totalFen: l.totalFen,
        })),
        notBilled: run.blocked.filter((b) => b.account === a.id).map((b) => b.meter),
        totalFen,
      });
      d.totalFen += totalFen;
    }
  }
  for (const d of accounts.values()) {
    const utilities = new Set(
      runs.flatMap((r) =>
        r.accounts.filter((a) => a.id === d.account).flatMap((a) => a.meters.map((m) => m.utility)),
      ),
    );
    d.tariffs = [...utilities].flatMap((u) =>
      tariffsInForce(tariffs, u, d.customerType, quarter.from, quarter.to),
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
    label('unit', lang),
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
          : `${x.opening}${x.openingEstimated ? ` (${label('estimated', lang)})` : ''}`,
        formatLocalTime(m.period.to, tz),
        x.closing === null
          ? null
          : `${x.closing}${x.closingEstimated ? ` (${label('estimated', lang)})` : ''}`,
        formatMilli(x.quantityMilli),
        UNIT_LABELS[x.unit]?.[lang] ?? x.unit,
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
          `<td class="n">${esc(x.opening ?? '')}${x.openingEstimated ? ` <small>${L('estimated')}</small>` : ''}</td>` +
          `<td class="n">${esc(x.closing ?? '')}${x.closingEstimated ? ` <small>${L('estimated')}</small>` : ''}</td>` +
          `<td class="n">${esc(formatMilli(x.quantityMilli))}</td><td>${esc(UNIT_LABELS[x.unit]?.[lang] ?? x.unit)}</td>` +
          `<td class="n">${esc(yuan(x.totalFen))}</td></tr>`,
      ),
    );
    const notBilled = a.months.flatMap((m) => m.notBilled.map((meter) => `${m.period.label} ${meter}`));
    return `<section>
<h2>${esc(a.account)} · ${esc(a.holder)} · ${esc(CUSTOMER_TYPE_LABELS[a.customerType][lang])}</h2>
<table>
<thead><tr><th>${L('month')}</th><th>${L('meter')}</th><th>${L('utility')}</th><th>${L('opening')}</th><th>${L('closing')}</th><th>${L('consumption')}</th><th>${L('unit')}</th><th>${L('amount')}</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
<tfoot><tr><th colspan="7">${L('quarterTotal')}</th><th class="n">${esc(yuan(a.totalFen))}</th></tr></tfoot>
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
