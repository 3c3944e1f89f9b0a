import { get, post } from './api.js';
import { timeChart } from './chart.js';
import { deskPage, formCard, listCard, stepControls, wordsOf } from './desk-parts.js';
import { field, fmtFen, fmtNum, fmtTime, h, table } from './dom.js';

/**
 * Capacity-increase applications: the window records one, an operator reviews it against the
 * feeder's or transformer's daily peaks over the last year (charted with its rating), two
 * supervisors approve, an operator records the work order done. The server checks every
 * permission and who may be the second person. Its strings live here, in both languages.
 */

const S = {
  zh: {
    nav: '增容审批',
    apply: '登记增容申请',
    utility: '类别',
    electricity: '电',
    water: '水',
    heat: '暖',
    meter: '用户表计',
    applicant: '申请人',
    increase: '增加容量（整数）',
    reason: '原因',
    submit: '登记',
    recorded: '已登记：编号 ',
    list: '申请',
    none: '暂无申请。',
    state: '状态',
    element: '所在馈线/变压器',
    peak: '近一年峰值',
    rating: '额定容量',
    headroom: '余量',
    fits: '可容纳',
    fee: '费用',
    review: '审核',
    approve: '批准',
    reject: '驳回',
    done: '工单完成',
    note: '说明',
    yes: '是',
    no: '否',
    unknown: '未知',
    dailyPeak: '日峰值',
    applied: '待审核',
    reviewed: '待审批',
    'approved-once': '已一人批准',
    approved: '已批准',
    rejected: '已驳回',
  },
  en: {
    nav: 'Capacity increases',
    apply: 'Record an application',
    utility: 'Utility',
    electricity: 'Electricity',
    water: 'Water',
    heat: 'Heating',
    meter: "Customer's meter",
    applicant: 'Applicant',
    increase: 'Increase (whole units)',
    reason: 'Reason',
    submit: 'Record',
    recorded: 'Recorded: no. ',
    list: 'Applications',
    none: 'No applications.',
    state: 'State',
    element: 'Feeder / transformer',
    peak: 'Peak, last year',
    rating: 'Rating',
    headroom: 'Headroom',
    fits: 'Fits',
    fee: 'Fee',
    review: 'Review',
    approve: 'Approve',
    reject: 'Reject',
    done: 'Work order done',
    note: 'Note',
    yes: 'yes',
    no: 'no',
    unknown: 'unknown',
    dailyPeak: 'Daily peak',
    applied: 'Awaiting review',
    reviewed: 'Awaiting approval',
    'approved-once': 'Approved once',
    approved: 'Approved',
    rejected: 'Rejected',
  },
};

const s = wordsOf(S);

function applyForm(reload) {
  const utility = h(
    'select',
    { name: 'utility' },
    ['electricity', 'water', 'heat'].map((u) => h('option', { value: u }, s(u))),
  );
  const meter = h('input', { name: 'meter', required: true });
  const applicant = h('input', { name: 'applicant', required: true });
  const increase = h('input', { name: 'increase', type: 'number', min: 1, step: 1, required: true });
  const reason = h('input', { name: 'reason', required: true });
  return formCard({
    section: 'apply-capacity',
    title: s('apply'),
    fields: [
      field(s('utility'), utility),
      field(s('meter'), meter),
      field(s('applicant'), applicant),
      field(s('increase'), increase),
      field(s('reason'), reason),
    ],
    submit: s('submit'),
    send: () =>
      post('/api/capacity', {
        utility: utility.value,
        meter: meter.value.trim(),
        applicant: applicant.value.trim(),
        increase: Number(increase.value),
        reason: reason.value.trim(),
      }),
    done: (a) => `${s('recorded')}${a.id}`,
    reload,
  });
}

function actions(a, can, reload, msg) {
  const withNote = (text) => ({ note: text });
  const steps = [];
  if (a.state === 'applied' && can('capacity.review')) steps.push({ path: 'review', body: withNote });
  if ((a.state === 'reviewed' || a.state === 'approved-once') && can('capacity.approve'))
    steps.push({ path: 'approve' }, { path: 'reject', body: withNote, kind: 'danger' });
  if (a.state === 'approved' && can('capacity.review')) steps.push({ path: 'done' });
  return stepControls({
    url: `/api/capacity/${a.id}`,
    noteLabel: s('note'),
    steps: steps.map((x) => ({ ...x, label: s(x.path) })),
    msg,
    reload,
  });
}

function reviewView(a) {
  const r = a.review;
  if (!r) return null;
  const box = h('div', { class: 'card', dataset: { review: a.id } });
  const yesNo = r.fits === null ? s('unknown') : r.fits ? s('yes') : s('no');
  box.append(
    h('h3', {}, `#${a.id} ${r.elementName}`),
    h(
      'p',
      {},
      `${s('peak')}: ${r.peak === null ? '–' : fmtNum(r.peak, 1)} · ${s('rating')}: ${r.rating ?? '–'} · ${s('headroom')}: ${
        r.headroom === null ? '–' : fmtNum(r.headroom, 1)
      } · ${s('fits')}: ${yesNo} · ${s('fee')}: ${fmtFen(r.feeFen)}`,
    ),
  );
  if (r.daily.length > 0) {
    const series = [{ label: s('dailyPeak'), points: r.daily, unit: a.utility === 'water' ? 'm³/h' : 'kW' }];
    if (r.rating !== null)
      series.push({
        label: s('rating'),
        points: [r.daily[0], r.daily.at(-1)].map(([ts]) => [ts, r.rating]),
        unit: series[0].unit,
        dash: [6, 4],
      });
    timeChart(box, { series, height: 220 });
  }
  return box;
}

function list(can) {
  return listCard({
    section: 'capacity',
    title: s('list'),
    none: s('none'),
    fetch: () => get('/api/capacity'),
    draw: (apps, { load, msg }) => [
      table(
        apps,
        [
          ['#', (a) => String(a.id)],
          [s('utility'), (a) => s(a.utility)],
          [s('applicant'), (a) => a.applicant],
          [s('increase'), (a) => `+${a.increase} ${a.unit}`],
          [s('state'), (a) => h('span', { class: 'badge', dataset: { state: a.state } }, s(a.state))],
          [s('fee'), (a) => (a.review ? fmtFen(a.review.feeFen) : '–')],
          [s('reason'), (a) => `${a.reason} (${fmtTime(a.recordedAt)})`],
          ['', (a) => actions(a, can, load, msg)],
        ],
        (a) => ({ dataset: { capacity: a.id, state: a.state } }),
      ),
      ...apps.map(reviewView).filter(Boolean),
    ],
  });
}

export const capacityPage = deskPage({
  id: 'capacity',
  s,
  permission: 'capacity.view',
  async render(main, _params, ctx) {
    const l = list(ctx.can);
    main.append(h('h1', {}, s('nav')), ...(ctx.can('capacity.apply') ? [applyForm(l.load)] : []), l.el);
  },
});
