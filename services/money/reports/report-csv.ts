import { toCsv } from '../billing/csv.ts';
import type { EnergyReport } from './energy-report.ts';
import { reportTable, type Lang } from './report-table.ts';

/**
 * The report as CSV for Excel: UTF-8 with a byte-order mark (without it Excel on a Chinese
 * Windows reads UTF-8 as GBK and the zh headers come out garbled), headers in the reader's language,
 * numbers as plain decimals, the title on the first line.
 */
export function reportCsv(r: EnergyReport, lang: Lang, title: string): string {
  const { header, rows } = reportTable(r, lang);
  const cells = rows.map((row) => row.map((c) => (c === null ? null : typeof c === 'string' ? c : c.number)));
  return '\uFEFF' + toCsv([title], []) + toCsv(header, cells);
}
