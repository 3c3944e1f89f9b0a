/**
 * CSV cells for exports that finance opens in a spreadsheet: RFC 4180 quoting, and text that a
 * spreadsheet would run as a formula (starting with = + - @ or a tab) prefixed with an apostrophe.
 * Numbers are written as they are (fen are integers, so no locale or float formatting applies).
 */
export type Cell = string | number | null | undefined;

function cell(v: Cell): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return String(v);
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Rows to CSV text with a header line, lines ending in \n. */
export function toCsv(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  return [header, ...rows].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}
