import type { PublicOutage } from './outage-notice.ts';
import { formatLocal, type Lang } from './outage-notice.ts';
import type { PublicCapacityDecision, PublicDisclosure, PublicTariff } from './window.ts';
import { WHO_NAMES, type WindowData } from './window-data.ts';

/**
 * The public window as one server-rendered page per language: phone-first (one column, large
 * type, tables that scroll sideways), no script, printable, and cacheable like the JSON it is
 * made from. Everything from data is escaped.
 */

export interface PublicWindow {
  campus: string;
  timezone: string;
  note: WindowData['note'];
  outages: PublicOutage[];
  tariffs: PublicTariff[];
  tariffVersions: { version: number; approvedAt: number }[];
  feeStandards: WindowData['feeStandards'];
  procedures: WindowData['procedures'];
  capacityDecisions: PublicCapacityDecision[];
  disclosures: string[];
}

const W = {
  zh: {
    title: '能源管理中心 公开栏',
    utility: '类别',
    outages: '计划停电、停水、停暖',
    noOutages: '近期没有计划停供。',
    tariffs: '现行价格',
    history: '历次价格',
    approved: '价格表批准日期',
    fees: '收费标准',
    procedures: '办事流程（谁来决定）',
    decides: '决定人',
    capacity: '增容审批结果',
    noCapacity: '暂无公示的增容审批。',
    disclosure: '季度公示（价格、读数、费用）',
    noDisclosure: '暂无可公示的季度。',
    effective: '起始日期',
    customers: '用户类别',
    price: '单价（元）',
    from: '开始',
    to: '结束',
    buildings: '受影响楼宇',
    reason: '原因',
    state: '状态',
    notice: '通知',
    outcome: '实际情况',
    other: 'English',
    upTo: '以内',
    above: '以上部分',
  },
  en: {
    title: 'Energy Management Center — public window',
    utility: 'Utility',
    outages: 'Planned power, water and heating outages',
    noOutages: 'No outages planned.',
    tariffs: 'Prices in force',
    history: 'Earlier prices',
    approved: 'Tariff table approved on',
    fees: 'Fee standards',
    procedures: 'Procedures (who decides)',
    decides: 'Decides',
    capacity: 'Capacity increase decisions',
    noCapacity: 'No capacity decisions published yet.',
    disclosure: 'Quarterly disclosure (prices, readings, charges)',
    noDisclosure: 'No quarter published yet.',
    effective: 'From',
    customers: 'Customers',
    price: 'Price (CNY)',
    from: 'From',
    to: 'Until',
    buildings: 'Buildings',
    reason: 'Reason',
    state: 'State',
    notice: 'Notice',
    outcome: 'What happened',
    other: '中文',
    upTo: 'up to',
    above: 'above',
  },
} as const;

const UTILITY: Record<Lang, Record<string, string>> = {
  zh: { electricity: '电', water: '水', heat: '暖' },
  en: { electricity: 'Electricity', water: 'Water', heat: 'Heating' },
};
const PHASE: Record<Lang, Record<string, string>> = {
  zh: {
    announced: '已公告',
    'in-progress': '进行中',
    settling: '恢复中',
    ended: '已结束',
    cancelled: '已取消',
  },
  en: {
    announced: 'Announced',
    'in-progress': 'In progress',
    settling: 'Restoring',
    ended: 'Ended',
    cancelled: 'Cancelled',
  },
};
const VERDICT: Record<Lang, Record<string, string>> = {
  zh: {
    'as-planned': '按计划',
    'started-late': '推迟开始',
    'started-early': '提前开始',
    overran: '超时恢复',
    'supply-not-stopped': '未停供',
    'not-restored': '未见恢复',
    'no-readings': '无读数',
  },
  en: {
    'as-planned': 'As planned',
    'started-late': 'Started late',
    'started-early': 'Started early',
    overran: 'Overran',
    'supply-not-stopped': 'Supply did not stop',
    'not-restored': 'Not seen restored',
    'no-readings': 'No readings',
  },
};
const OUTCOME: Record<Lang, Record<PublicCapacityDecision['outcome'], string>> = {
  zh: { approved: '已批准', rejected: '未批准', done: '已完成' },
  en: { approved: 'Approved', rejected: 'Refused', done: 'Carried out' },
};
const CUSTOMER: Record<Lang, Record<string, string>> = {
  zh: {
    'student-room': '学生宿舍',
    'staff-household': '教职工住户',
    business: '校内经营',
    external: '校外用户',
    'fully-recovered-unit': '全成本核算单位',
    vendor: '外包服务商',
    public: '公共建筑',
  },
  en: {
    'student-room': 'Student rooms',
    'staff-household': 'Staff households',
    business: 'Campus businesses',
    external: 'External users',
    'fully-recovered-unit': 'Fully-recovered units',
    vendor: 'Service vendors',
    public: 'Public buildings',
  },
};

export const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Integer fen as yuan with two decimals, from integers only. */
export function yuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const a = Math.abs(fen);
  return `${sign}¥${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

const STYLE = `
:root { font-size: 17px; }
body { font-family: system-ui, "Noto Sans CJK SC", sans-serif; margin: 0 auto; max-width: 48rem; padding: .75rem; line-height: 1.5; color: #111; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 1.75rem; border-bottom: 2px solid #0a5; }
.wrap { overflow-x: auto; } table { border-collapse: collapse; width: 100%; font-size: .95rem; }
th, td { border-bottom: 1px solid #ccc; padding: .4rem; text-align: left; vertical-align: top; }
.lang { float: right; } .muted { color: #555; font-size: .9rem; } ol { padding-left: 1.25rem; }
@media print { .lang { display: none; } }
`;

function price(c: PublicTariff['components'][number], lang: Lang): string {
  if (c.price !== undefined) return c.price;
  const w = W[lang];
  return (c.tiers ?? [])
    .map((t) => (t.upTo !== undefined ? `${w.upTo} ${t.upTo}: ${t.price}` : `${w.above}: ${t.price}`))
    .join('; ');
}

function tariffRows(list: PublicTariff[], lang: Lang): string {
  return list
    .map(
      (t) =>
        `<tr data-tariff><td>${esc(UTILITY[lang][t.utility] ?? t.utility)}</td><td>${esc(
          t.customerTypes.map((c) => CUSTOMER[lang][c] ?? c).join(', '),
        )}</td><td>${esc(t.effectiveFrom)}</td><td>${t.components
          .map((c) => `${esc(c.name)}: ${esc(price(c, lang))} /${esc(t.unit === 'm3' ? 'm³' : t.unit)}`)
          .join('<br>')}</td></tr>`,
    )
    .join('');
}

export function windowHtml(p: PublicWindow, lang: Lang): string {
  const w = W[lang];
  const other: Lang = lang === 'zh' ? 'en' : 'zh';
  const head = `<tr><th>${w.utility}</th><th>${w.customers}</th><th>${w.effective}</th><th>${w.price}</th></tr>`;
  const outages = p.outages.length
    ? `<div class="wrap"><table><tr><th>${w.from}</th><th>${w.to}</th><th>${w.buildings}</th><th>${w.reason}</th><th>${w.state}</th></tr>${p.outages
        .map(
          (o) =>
            `<tr data-outage="${o.id}"><td>${esc(UTILITY[lang][o.utility]!)} ${esc(formatLocal(o.startsAt, p.timezone, lang))}</td><td>${esc(
              formatLocal(o.endsAt, p.timezone, lang),
            )}</td><td>${o.buildings
              .map(
                (b) =>
                  `<a href="/public/outages/${o.id}/notice/${encodeURIComponent(b.id)}?lang=${lang}">${esc(b.name)}</a>`,
              )
              .join('<br>')}</td><td>${esc(o.reason)}</td><td>${esc(PHASE[lang][o.phase] ?? o.phase)}${
              o.outcome ? `<br>${esc(o.outcome.verdicts.map((v) => VERDICT[lang][v] ?? v).join(', '))}` : ''
            }</td></tr>`,
        )
        .join('')}</table></div>`
    : `<p>${w.noOutages}</p>`;
  const inForce = p.tariffs.filter((t) => t.inForce);
  const earlier = p.tariffs.filter((t) => !t.inForce);
  return `<!doctype html>
<html lang="${lang === 'zh' ? 'zh-CN' : 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(w.title)}</title><style>${STYLE}</style></head><body>
<a class="lang" href="/public/?lang=${other}" hreflang="${other}">${w.other}</a>
<h1>${esc(p.campus)}<br>${esc(w.title)}</h1>
<p class="muted">${esc(p.note[lang])}</p>
<section id="outages"><h2>${w.outages}</h2>${outages}</section>
<section id="tariffs"><h2>${w.tariffs}</h2><div class="wrap"><table>${head}${tariffRows(inForce, lang)}</table></div>
<details><summary>${w.history}</summary><div class="wrap"><table>${head}${tariffRows(earlier, lang)}</table></div>
<p class="muted">${w.approved}: ${p.tariffVersions.map((v) => esc(formatLocal(v.approvedAt, p.timezone, lang))).join('; ')}</p></details></section>
<section id="fees"><h2>${w.fees}</h2><div class="wrap"><table>${p.feeStandards
    .map(
      (f) =>
        `<tr data-fee="${esc(f.id)}"><td>${esc(f.name[lang])}</td><td>${yuan(f.amountFen)} ${esc(f.per[lang])}</td><td>${esc(f.basis[lang])}</td></tr>`,
    )
    .join('')}</table></div></section>
<section id="procedures"><h2>${w.procedures}</h2>${p.procedures
    .map(
      (pr) =>
        `<details data-procedure="${esc(pr.id)}"><summary>${esc(pr.name[lang])} — ${w.decides}: ${esc(
          WHO_NAMES[pr.decides][lang],
        )}</summary><ol>${pr.steps
          .map((s) => `<li><strong>${esc(WHO_NAMES[s.who][lang])}</strong>: ${esc(s.what[lang])}</li>`)
          .join('')}</ol></details>`,
    )
    .join('')}</section>
<section id="capacity"><h2>${w.capacity}</h2>${
    p.capacityDecisions.length
      ? `<div class="wrap"><table>${p.capacityDecisions
          .map(
            (c) =>
              `<tr data-capacity="${c.id}"><td>${esc(UTILITY[lang][c.utility] ?? c.utility)} +${c.increase} ${esc(c.unit)}</td><td>${esc(
                OUTCOME[lang][c.outcome],
              )} ${esc(formatLocal(c.decidedAt, p.timezone, lang))}</td><td>${c.feeFen === null ? '–' : yuan(c.feeFen)}</td></tr>`,
          )
          .join('')}</table></div>`
      : `<p>${w.noCapacity}</p>`
  }</section>
<section id="disclosure"><h2>${w.disclosure}</h2>${
    p.disclosures.length
      ? `<ul>${p.disclosures
          .map(
            (q) =>
              `<li><a href="/public/disclosure/${esc(q)}?format=html&amp;lang=${lang}">${esc(q)}</a></li>`,
          )
          .join('')}</ul>`
      : `<p>${w.noDisclosure}</p>`
  }</section>
</body></html>
`;
}

export function disclosureHtml(d: PublicDisclosure, lang: Lang): string {
  const zh = lang === 'zh';
  const h = zh
    ? ['账户', '类别', '月份', '表计', '期初', '期末', '用量', '费用', '合计']
    : ['Account', 'Type', 'Month', 'Meter', 'Opening', 'Closing', 'Use', 'Charges', 'Total'];
  const rows = d.accounts
    .flatMap((a) =>
      a.months.flatMap((m) =>
        m.meters.map(
          (x) =>
            `<tr data-account="${esc(a.account)}"><td>${esc(a.account)}</td><td>${esc(CUSTOMER[lang][a.customerType] ?? a.customerType)}</td><td>${esc(
              m.period,
            )}</td><td>${esc(x.meter)}</td><td>${x.opening ?? '–'}${x.openingEstimated ? '*' : ''}</td><td>${x.closing ?? '–'}${
              x.closingEstimated ? '*' : ''
            }</td><td>${(x.quantityMilli / 1000).toFixed(3)} ${esc(x.unit === 'm3' ? 'm³' : x.unit)}</td><td>${x.components
              .map((c) => `${esc(c.name)} ${yuan(c.amountFen)}`)
              .join('<br>')}</td><td>${yuan(x.totalFen)}</td></tr>`,
        ),
      ),
    )
    .join('');
  return `<!doctype html>
<html lang="${zh ? 'zh-CN' : 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(d.quarter)}</title><style>${STYLE}</style></head><body>
<h1>${zh ? '季度公示' : 'Quarterly disclosure'} ${esc(d.quarter)}</h1>
<p class="muted">${zh ? '* 为估算读数' : '* estimated reading'}</p>
<div class="wrap"><table><tr>${h.map((x) => `<th>${x}</th>`).join('')}</tr>${rows}</table></div>
</body></html>
`;
}
