import { wallClock } from '../../metering/consumption/zone.ts';
import { formatFen } from '../billing/money.ts';
import type { EnergyReport, PeriodAmount, UtilityReport } from './energy-report.ts';

/**
 * A report as one table of cells in the reader's language, shared by the CSV and the XLSX
 * export: per utility its rows, then its total, the two earlier periods and the changes. Numbers
 * stay numbers (a cell is a number or a decimal string marked as a number), text stays text.
 */

export type Lang = 'zh' | 'en';

const WORDS = {
  zh: {
    header: [
      '类别',
      '单位',
      '时段',
      '用量',
      '缺数区间',
      '费用（元）',
      '较之变化（用量 %）',
      '较之变化（费用 %）',
    ],
    electricity: '电',
    water: '水',
    heat: '热',
    total: '合计',
    previous: '上期',
    lastYear: '去年同期',
    vsPrevious: '较上期变化',
    vsLastYear: '较去年同期变化',
    noData: '无数据',
    title: '能耗报表',
    day: '日报',
    month: '月报',
    year: '年报',
    campus: '全校',
  },
  en: {
    header: [
      'Utility',
      'Unit',
      'Period',
      'Consumption',
      'Missing intervals',
      'Cost (yuan)',
      'Change (consumption %)',
      'Change (cost %)',
    ],
    electricity: 'Electricity',
    water: 'Water',
    heat: 'Heat',
    total: 'Total',
    previous: 'Previous period',
    lastYear: 'Same period last year',
    vsPrevious: 'Change vs previous period',
    vsLastYear: 'Change vs same period last year',
    noData: 'no data',
    title: 'Energy report',
    day: 'Daily report',
    month: 'Monthly report',
    year: 'Yearly report',
    campus: 'Campus',
  },
} as const;

/** A number cell: written from `text` (an exact decimal), so no float formatting touches it. */
export interface NumberCell {
  number: string;
}
export type TableCell = string | NumberCell | null;

const num = (n: number | null, decimals?: number): NumberCell | null =>
  n === null ? null : { number: decimals === undefined ? String(n) : n.toFixed(decimals) };
const yuan = (fen: number | null): NumberCell | null => (fen === null ? null : { number: formatFen(fen) });

const pad = (n: number) => String(n).padStart(2, '0');

/** A row's label on the campus clock: "13:00" in a day, "2026-11-05" in a month, "2026-11" in a year. */
export function rowLabel(start: number, kind: EnergyReport['period']['kind'], tz: string): string {
  const w = wallClock(start, tz);
  if (kind === 'day') return `${pad(w.hour)}:${pad(w.minute)}`;
  if (kind === 'month') return `${w.year}-${pad(w.month)}-${pad(w.day)}`;
  return `${w.year}-${pad(w.month)}`;
}

export function reportTitle(r: EnergyReport, lang: Lang): string {
  const w = WORDS[lang];
  const scope = r.scope.kind === 'campus' ? w.campus : r.scope.name;
  return `${w.title} · ${w[r.period.kind]} · ${scope} · ${r.period.label}`;
}

function amountRow(u: UtilityReport, what: string, a: PeriodAmount, lang: Lang): TableCell[] {
  const w = WORDS[lang];
  return [
    w[u.utility],
    u.unit,
    what,
    a.value === null ? w.noData : num(a.value),
    num(a.gaps),
    a.value === null ? null : yuan(a.costFen),
    null,
    null,
  ];
}

/** The header and the rows of the whole report. */
export function reportTable(r: EnergyReport, lang: Lang): { header: string[]; rows: TableCell[][] } {
  const w = WORDS[lang];
  const rows: TableCell[][] = [];
  for (const u of r.utilities) {
    const name = w[u.utility];
    for (const row of u.rows) {
      rows.push([
        name,
        u.unit,
        rowLabel(row.start, r.period.kind, r.timezone),
        row.value === null ? w.noData : num(row.value),
        num(row.gaps),
        yuan(row.costFen),
        null,
        null,
      ]);
    }
    rows.push(amountRow(u, w.total, u.total, lang));
    rows.push(amountRow(u, `${w.previous} ${u.previous.label}`, u.previous, lang));
    rows.push(amountRow(u, `${w.lastYear} ${u.lastYear.label}`, u.lastYear, lang));
    for (const [label, c] of [
      [w.vsPrevious, u.vsPrevious],
      [w.vsLastYear, u.vsLastYear],
    ] as const) {
      rows.push([
        name,
        u.unit,
        label,
        c.value === null ? w.noData : num(c.value),
        null,
        yuan(c.costFen),
        num(c.percent, 1),
        num(c.costPercent, 1),
      ]);
    }
  }
  return { header: [...w.header], rows };
}
