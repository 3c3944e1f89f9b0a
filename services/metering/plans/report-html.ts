/**
 * The year-end report of a unit's plan as a printable page, in Chinese or English: the plan, use
 * per month (with the share VEE estimated), the total and how far over or under. Quantities are
 * formatted from integer thousandths, never through floating-point sums.
 */

export interface YearEndReport {
  unit: string;
  name: string;
  utility: 'water' | 'electricity';
  year: number;
  planMilli: number;
  months: { month: string; useMilli: number; estimatedMilli: number }[];
  useMilli: number;
  overMilli: number;
  shareBp: number;
  complete: boolean;
}

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** 12345 thousandths → "12.345". */
export function milli(n: number): string {
  const sign = n < 0 ? '-' : '';
  const a = Math.abs(n);
  return `${sign}${Math.floor(a / 1000)}.${String(a % 1000).padStart(3, '0')}`;
}

const W = {
  zh: {
    title: (y: number) => `${y} 年度用量计划执行报告`,
    month: '月份',
    use: '用量',
    est: '其中估算',
    plan: '年度计划',
    total: '全年用量',
    share: '完成比例',
    over: '超计划',
    under: '计划余量',
    partial: '年度尚未结束，数据截至目前。',
  },
  en: {
    title: (y: number) => `Use against the annual plan, ${y}`,
    month: 'Month',
    use: 'Use',
    est: 'of which estimated',
    plan: 'Annual plan',
    total: 'Use in the year',
    share: 'Share of the plan',
    over: 'Over the plan',
    under: 'Left in the plan',
    partial: 'The year is not over: figures so far.',
  },
} as const;

export function yearEndHtml(r: YearEndReport, lang: 'zh' | 'en'): string {
  const w = W[lang];
  const unit = r.utility === 'water' ? 'm³' : 'kWh';
  const rows = r.months
    .map(
      (m) =>
        `<tr data-month="${m.month}"><td>${m.month}</td><td>${milli(m.useMilli)}</td><td>${milli(m.estimatedMilli)}</td></tr>`,
    )
    .join('');
  const share = `${Math.floor(r.shareBp / 100)}.${String(r.shareBp % 100).padStart(2, '0')} %`;
  return `<!doctype html>
<html lang="${lang === 'zh' ? 'zh-CN' : 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(r.name)} — ${esc(w.title(r.year))}</title>
<style>body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;max-width:180mm;margin:0 auto;padding:1rem}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #000;padding:.3rem;text-align:right}
th:first-child,td:first-child{text-align:left}</style></head><body>
<h1>${esc(r.name)}</h1><h2>${esc(w.title(r.year))}</h2>
${r.complete ? '' : `<p>${w.partial}</p>`}
<table><tr><th>${w.month}</th><th>${w.use} (${unit})</th><th>${w.est} (${unit})</th></tr>${rows}</table>
<table data-summary><tr><th>${w.plan}</th><td>${milli(r.planMilli)} ${unit}</td></tr>
<tr><th>${w.total}</th><td>${milli(r.useMilli)} ${unit}</td></tr>
<tr><th>${w.share}</th><td>${share}</td></tr>
<tr><th>${r.overMilli > 0 ? w.over : w.under}</th><td>${milli(Math.abs(r.overMilli))} ${unit}</td></tr></table>
</body></html>
`;
}
