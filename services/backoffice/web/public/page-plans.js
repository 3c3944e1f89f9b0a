import { get, post } from './api.js';
import { deskPage, formCard, listCard, stepControls, wordsOf } from './desk-parts.js';
import { field, fmtNum, h, table } from './dom.js';

/**
 * Annual use plans per unit: an operator proposes a unit's plan for a year (its meters and the
 * quantity), a supervisor other than the proposer approves or rejects it; everyone with the
 * permission follows use per month against it, with the 80 % and 100 % warnings. Quantities come
 * from the server in thousandths and are shown to three decimals at most. Its strings live here.
 */

const S = {
  zh: {
    nav: '年度用水计划',
    propose: '提出年度计划',
    unit: '单位编号',
    name: '单位名称',
    utility: '类别',
    water: '水',
    electricity: '电',
    year: '年度',
    meters: '表计（逗号分隔）',
    quantity: '计划量（m³ 或 kWh）',
    submit: '提交',
    proposed: '已提交，等待主管审批：编号 ',
    list: '计划与执行',
    none: '该年度暂无计划。',
    state: '状态',
    plan: '计划量',
    used: '已用',
    share: '完成比例',
    warning: '预警',
    approve: '批准',
    reject: '驳回',
    note: '说明',
    proposedState: '待审批',
    approvedState: '已批准',
    rejectedState: '已驳回',
    supersededState: '已被新版本替代',
  },
  en: {
    nav: 'Annual water plans',
    propose: 'Propose an annual plan',
    unit: 'Unit id',
    name: 'Unit name',
    utility: 'Utility',
    water: 'Water',
    electricity: 'Electricity',
    year: 'Year',
    meters: 'Meters (comma-separated)',
    quantity: 'Planned quantity (m³ or kWh)',
    submit: 'Submit',
    proposed: 'Submitted; a supervisor approves it. No. ',
    list: 'Plans and use',
    none: 'No plans for this year.',
    state: 'State',
    plan: 'Plan',
    used: 'Used',
    share: 'Share',
    warning: 'Warning',
    approve: 'Approve',
    reject: 'Reject',
    note: 'Note',
    proposedState: 'Awaiting approval',
    approvedState: 'Approved',
    rejectedState: 'Rejected',
    supersededState: 'Superseded',
  },
};

const s = wordsOf(S);
const qty = (milli) => fmtNum(milli / 1000, 3);

function proposeForm(year, reload) {
  const unit = h('input', { name: 'unit', required: true, maxlength: 64 });
  const name = h('input', { name: 'name', required: true, maxlength: 200 });
  const utility = h(
    'select',
    { name: 'utility' },
    ['water', 'electricity'].map((u) => h('option', { value: u }, s(u))),
  );
  const y = h('input', { name: 'year', type: 'number', value: String(year), min: 2000, max: 2100 });
  const meters = h('input', { name: 'meters', required: true });
  const quantity = h('input', {
    name: 'quantity',
    type: 'number',
    step: '0.001',
    min: '0.001',
    required: true,
  });
  return formCard({
    section: 'propose-plan',
    title: s('propose'),
    fields: [
      field(s('unit'), unit),
      field(s('name'), name),
      field(s('utility'), utility),
      field(s('year'), y),
      field(s('meters'), meters),
      field(s('quantity'), quantity),
    ],
    submit: s('submit'),
    send: () =>
      post('/api/plans', {
        unit: unit.value.trim(),
        name: name.value.trim(),
        utility: utility.value,
        year: Number(y.value),
        meters: meters.value
          .split(',')
          .map((m) => m.trim())
          .filter(Boolean),
        quantity: Number(quantity.value),
      }),
    done: (p) => `${s('proposed')}${p.id}`,
    reload,
  });
}

function decide(p, can, reload, msg) {
  if (p.state !== 'proposed' || !can('plans.approve')) return '';
  return stepControls({
    url: `/api/plans/${p.id}`,
    noteLabel: s('note'),
    steps: [
      { path: 'approve', label: s('approve') },
      { path: 'reject', label: s('reject'), kind: 'danger', body: (text) => ({ note: text }) },
    ],
    msg,
    reload,
  });
}

function list(year, can) {
  return listCard({
    section: 'plans',
    title: s('list'),
    none: s('none'),
    fetch: () => get(`/api/plans?year=${year}`),
    draw: async (plans, { load, msg }) => {
      const status = new Map(
        await Promise.all(
          plans
            .filter((p) => p.state === 'approved')
            .map(async (p) => [p.id, await get(`/api/plans/${p.id}/status`)]),
        ),
      );
      return table(
        plans,
        [
          ['#', (p) => String(p.id)],
          [s('name'), (p) => `${p.name} (${p.unit})`],
          [s('utility'), (p) => s(p.utility)],
          [s('state'), (p) => s(`${p.state}State`)],
          [s('plan'), (p) => qty(p.quantityMilli)],
          [s('used'), (p) => (status.has(p.id) ? qty(status.get(p.id).useMilli) : '–')],
          [s('share'), (p) => (status.has(p.id) ? `${fmtNum(status.get(p.id).shareBp / 100, 2)} %` : '–')],
          [
            s('warning'),
            (p) => {
              const level = status.get(p.id)?.level ?? 0;
              return level
                ? h('span', { class: 'badge', dataset: { level: String(level) } }, `≥ ${level} %`)
                : '–';
            },
          ],
          ['', (p) => decide(p, can, load, msg)],
        ],
        (p) => ({ dataset: { plan: p.id, state: p.state } }),
      );
    },
  });
}

export const plansPage = deskPage({
  id: 'plans',
  s,
  permission: 'plans.view',
  async render(main, params, ctx) {
    const year = Number(params[0]) || new Date().getFullYear();
    const l = list(year, ctx.can);
    main.append(
      h('h1', {}, `${s('nav')} ${year}`),
      ...(ctx.can('plans.propose') ? [proposeForm(year, l.load)] : []),
      l.el,
    );
  },
});
