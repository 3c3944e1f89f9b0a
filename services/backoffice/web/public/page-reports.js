/* global window, URLSearchParams */
import { get } from './api.js';
import { clear, fmtFen, fmtNum, fmtTime, h, localToday, note } from './dom.js';
import { dateInput as dayInput, monthInput } from './inputs.js';
import { getLang } from './i18n.js';

/**
 * Energy reports (issue 15 item 3): a day, month or year for the campus, a building or a customer
 * type, computed by the server (GET /api/reports/energy); here only drawn, printed (the print
 * stylesheet leaves out the navigation and the controls) and offered as CSV and XLSX. The choice is
 * kept in the address (#/reports/<period>/<date>/<scope>) so a report can be bookmarked or sent.
 * Its strings live here, in both languages.
 */

const S = {
  zh: {
    nav: '能耗报表',
    title: '能耗报表',
    period: '报表类型',
    day: '日报',
    month: '月报',
    year: '年报',
    date: '日期',
    scope: '范围',
    campus: '全校',
    buildings: '楼栋',
    types: '用户类别',
    show: '生成报表',
    csv: '下载 CSV',
    xlsx: '下载 Excel',
    print: '打印',
    loading: '正在计算报表……一年的报表需要几秒钟。',
    empty: '该范围内没有表计：请选择其他楼栋或用户类别。',
    electricity: '电',
    water: '水',
    heat: '热',
    when: '时段',
    consumption: '用量',
    cost: '费用',
    missing: '缺数区间',
    total: '合计',
    previous: '上期',
    lastYear: '去年同期',
    change: '变化',
    noData: '无数据',
    generated: '生成时间',
    tz: '时区',
    pricedNote:
      '费用为范围内用户表计按当期电价/水价计算（预付费按原始读数，后付费按校核后读数）；{n} 块表计未计费：',
    incomplete: '不完整：{n} 个区间缺数，未计入（不按零计）。',
    noDataNote: '“无数据”表示该时段没有可计算的读数，不是零。',
    partial: '不完整，缺 {n} 个区间',
    'student-room': '学生宿舍',
    'staff-household': '教职工住户',
    business: '校内经营',
    external: '校外用户',
    'fully-recovered-unit': '全额回收单位',
    vendor: '外包服务商',
    public: '公共建筑',
  },
  en: {
    nav: 'Energy reports',
    title: 'Energy report',
    period: 'Report',
    day: 'Daily',
    month: 'Monthly',
    year: 'Yearly',
    date: 'Date',
    scope: 'Scope',
    campus: 'Campus',
    buildings: 'Buildings',
    types: 'Customer types',
    show: 'Show report',
    csv: 'Download CSV',
    xlsx: 'Download Excel',
    print: 'Print',
    loading: 'Computing the report… a year takes a few seconds.',
    empty: 'No meters in this scope: choose another building or customer type.',
    electricity: 'Electricity',
    water: 'Water',
    heat: 'Heat',
    when: 'Period',
    consumption: 'Consumption',
    cost: 'Cost',
    missing: 'Missing intervals',
    total: 'Total',
    previous: 'Previous period',
    lastYear: 'Same period last year',
    change: 'Change',
    noData: 'no data',
    generated: 'Generated',
    tz: 'time zone',
    pricedNote:
      "Cost: the customers' meters in the scope at the tariff in force (prepaid from raw readings, post-paid from validated readings); {n} meters not priced: ",
    incomplete: 'Incomplete: {n} intervals missing, left out (not counted as zero).',
    noDataNote: '"no data" means no reading could be computed for that period; it is not zero.',
    partial: 'incomplete, {n} intervals missing',
    'student-room': 'Student dorm room',
    'staff-household': 'Staff household',
    business: 'On-campus business',
    external: 'External user',
    'fully-recovered-unit': 'Fully-recovered unit',
    vendor: 'Outsourced vendor',
    public: 'Public building',
  },
};

const s = (key, vars) =>
  (S[getLang()]?.[key] ?? S.en[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String(vars?.[k] ?? ''));

const PERIODS = ['day', 'month', 'year'];

/** The default date of each kind of report: today, this month, this year (campus clock). */
function defaultDate(period) {
  const today = localToday();
  return period === 'day' ? today : period === 'month' ? today.slice(0, 7) : today.slice(0, 4);
}

function dateInput(period, value) {
  if (period === 'year')
    return h('input', { name: 'date', type: 'number', min: 2000, max: 2100, value, 'aria-label': s('date') });
  const attrs = { name: 'date', value, required: true, 'aria-label': s('date') };
  return period === 'day' ? dayInput(attrs) : monthInput(attrs);
}

function rowLabel(start, period, tz) {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      ...{ timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' },
      ...{ hour: '2-digit', minute: '2-digit', hourCycle: 'h23' },
    })
      .formatToParts(new Date(start))
      .map((x) => [x.type, x.value]),
  );
  if (period === 'day') return `${p.hour}:${p.minute}`;
  if (period === 'month') return `${p.year}-${p.month}-${p.day}`;
  return `${p.year}-${p.month}`;
}

const qty = (v, unit) => (v === null ? s('noData') : `${fmtNum(v, 3)} ${unit}`);
const pct = (p) => (p === null ? '' : ` (${p > 0 ? '+' : ''}${fmtNum(p, 1)} %)`);

function controls(state, scopes) {
  const period = h(
    'select',
    { name: 'period', 'aria-label': s('period') },
    PERIODS.map((p) => h('option', { value: p, selected: p === state.period }, s(p))),
  );
  let date = dateInput(state.period, state.date);
  const dateBox = h('span', {}, date);
  period.addEventListener('change', () => {
    date = dateInput(period.value, defaultDate(period.value));
    clear(dateBox);
    dateBox.append(date);
  });
  const scope = h(
    'select',
    { name: 'scope', 'aria-label': s('scope') },
    h('option', { value: 'campus', selected: state.scope === 'campus' }, s('campus')),
    h(
      'optgroup',
      { label: s('buildings') },
      scopes.buildings.map((b) =>
        h(
          'option',
          { value: `building:${b.id}`, selected: state.scope === `building:${b.id}` },
          `${b.name} · ${s(b.utility)}`,
        ),
      ),
    ),
    h(
      'optgroup',
      { label: s('types') },
      scopes.customerTypes.map((t) =>
        h('option', { value: `type:${t}`, selected: state.scope === `type:${t}` }, s(t)),
      ),
    ),
  );
  const query = new URLSearchParams({
    period: state.period,
    date: state.date,
    scope: state.scope,
    lang: getLang(),
  });
  return h(
    'form',
    {
      class: 'card no-print report-controls',
      dataset: { form: 'report' },
      onsubmit: (e) => {
        e.preventDefault();
        const d = String(date.value).trim() || defaultDate(period.value);
        window.location.hash = `#/reports/${period.value}/${encodeURIComponent(d)}/${encodeURIComponent(scope.value)}`;
      },
    },
    h('label', { class: 'field' }, h('span', {}, s('period')), period),
    h('label', { class: 'field' }, h('span', {}, s('date')), dateBox),
    h('label', { class: 'field' }, h('span', {}, s('scope')), scope),
    h(
      'div',
      { class: 'controls' },
      h('button', { type: 'submit', class: 'primary' }, s('show')),
      h(
        'a',
        { class: 'button', href: `/api/reports/energy?${query}&format=csv`, dataset: { download: 'csv' } },
        s('csv'),
      ),
      h(
        'a',
        { class: 'button', href: `/api/reports/energy?${query}&format=xlsx`, dataset: { download: 'xlsx' } },
        s('xlsx'),
      ),
      h(
        'button',
        { type: 'button', dataset: { action: 'print' }, onclick: () => window.print() },
        s('print'),
      ),
    ),
  );
}

function summary(u) {
  const line = (label, a, change) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, label),
      h(
        'td',
        { class: 'num' },
        qty(a.value, u.unit),
        change ? pct(change.percent) : '',
        a.value !== null && a.gaps
          ? h('span', { class: 'report-gaps' }, ` · ${s('partial', { n: a.gaps })}`)
          : '',
      ),
      h(
        'td',
        { class: 'num' },
        a.value === null ? '–' : fmtFen(a.costFen),
        change ? pct(change.costPercent) : '',
      ),
    );
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'report-summary' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, ''),
          h('th', { scope: 'col' }, s('consumption')),
          h('th', { scope: 'col' }, s('cost')),
        ),
      ),
      h(
        'tbody',
        {},
        h(
          'tr',
          { class: 'report-total', dataset: { total: u.utility } },
          h('th', { scope: 'row' }, `${s('total')} ${u.total.label}`),
          h('td', { class: 'num' }, qty(u.total.value, u.unit)),
          h('td', { class: 'num' }, u.total.value === null ? '–' : fmtFen(u.total.costFen)),
        ),
        line(`${s('previous')} ${u.previous.label}`, u.previous, u.vsPrevious),
        line(`${s('lastYear')} ${u.lastYear.label}`, u.lastYear, u.vsLastYear),
      ),
    ),
  );
}

function rowsTable(u, report) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'report-rows' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, s('when')),
          h('th', { scope: 'col' }, `${s('consumption')} (${u.unit})`),
          h('th', { scope: 'col' }, s('cost')),
          h('th', { scope: 'col' }, s('missing')),
        ),
      ),
      h(
        'tbody',
        {},
        u.rows.map((r) =>
          h(
            'tr',
            { dataset: { row: String(r.start) }, class: r.value === null ? 'no-data' : undefined },
            h('td', {}, rowLabel(r.start, report.period.kind, report.timezone)),
            h('td', { class: 'num' }, r.value === null ? s('noData') : fmtNum(r.value, 3)),
            h('td', { class: 'num' }, fmtFen(r.costFen)),
            h('td', { class: 'num' }, r.gaps ? String(r.gaps) : ''),
          ),
        ),
      ),
    ),
  );
}

function utilitySection(u, report) {
  return h(
    'section',
    { class: 'card report-utility', dataset: { utility: u.utility } },
    h('h2', {}, `${s(u.utility)} (${u.unit})`),
    summary(u),
    u.total.gaps ? note(s('incomplete', { n: u.total.gaps })) : null,
    u.unpriced.length
      ? h(
          'p',
          { class: 'report-note' },
          s('pricedNote', { n: u.unpriced.length }),
          u.unpriced.map((x) => x.meter).join(', '),
        )
      : null,
    rowsTable(u, report),
  );
}

function scopeLabel(report) {
  if (report.scope.kind === 'campus') return s('campus');
  if (report.scope.kind === 'customer-type') return s(report.scope.type);
  return report.scope.name;
}

function reportView(report) {
  if (report.utilities.length === 0) return note(s('empty'));
  return h(
    'div',
    { class: 'report', dataset: { report: report.period.label } },
    h(
      'p',
      { class: 'report-meta' },
      `${s('generated')} ${fmtTime(report.generatedAt)} (${s('tz')} ${report.timezone}). ${s('noDataNote')}`,
    ),
    report.utilities.map((u) => utilitySection(u, report)),
  );
}

export const reportsPage = {
  id: 'reports',
  get nav() {
    return s('nav');
  },
  allowed: (can) => can('readings.view'),
  async render(main, params) {
    const period = PERIODS.includes(params[0]) ? params[0] : 'month';
    const state = { period, date: params[1] || defaultDate(period), scope: params[2] || 'campus' };
    const box = h('div', { 'aria-live': 'polite' }, note(s('loading')));
    const heading = h('h1', {}, s('title'));
    main.append(heading);
    let scopes = { buildings: [], customerTypes: [] };
    try {
      scopes = await get('/api/reports/scopes');
    } catch (e) {
      main.append(note(e.message, 'error'));
    }
    main.append(controls(state, scopes), h('section', { dataset: { section: 'reports' } }, box));
    try {
      const q = new URLSearchParams({ period: state.period, date: state.date, scope: state.scope });
      const report = await get(`/api/reports/energy?${q}`);
      heading.textContent = `${s('title')} · ${s(report.period.kind)} · ${scopeLabel(report)} · ${report.period.label}`;
      clear(box);
      box.append(reportView(report));
    } catch (e) {
      clear(box);
      box.append(note(e.message, 'error'));
    }
  },
};
