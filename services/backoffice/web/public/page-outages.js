import { get, post } from './api.js';
import { deskPage, formCard, listCard, stepControls, wordsOf } from './desk-parts.js';
import { clear, field, fmtTime, fromLocalInput, h, table, toLocalInput } from './dom.js';
import { dateTimeInput } from './inputs.js';

/**
 * The operations desk's planned outages: an operator plans one on a node of the metering tree
 * (times typed in the campus zone), a supervisor of that utility approves or rejects it, and
 * everyone with the permission sees who is affected, the printable notice per building and,
 * afterwards, what the readings showed. The server checks every permission and the four-eyes
 * rule again. Its strings live here, in both languages.
 */

const S = {
  zh: {
    nav: '计划停电/停水',
    plan: '计划停供',
    utility: '类别',
    electricity: '电',
    water: '水',
    heat: '暖',
    node: '节点（馈线、配电房、楼宇、立管）',
    from: '开始',
    to: '结束',
    reason: '原因',
    planBtn: '提交计划',
    planned: '已提交，等待该类别主管审批：编号 ',
    list: '停供计划',
    none: '暂无计划。',
    window: '时间',
    phase: '状态',
    by: '计划人',
    decided: '审批人',
    reach: '影响范围',
    outcome: '实际情况',
    approve: '批准并发布',
    reject: '驳回',
    cancel: '取消',
    note: '说明',
    buildings: '栋楼',
    rooms: '户/间',
    accounts: '个账户',
    notices: '通知（打印）',
    'awaiting-approval': '待审批',
    announced: '已公告',
    'in-progress': '进行中',
    settling: '恢复观察中',
    ended: '已结束',
    rejected: '已驳回',
    cancelled: '已取消',
    'as-planned': '按计划',
    'started-late': '推迟开始',
    'started-early': '提前开始',
    overran: '超时恢复',
    'supply-not-stopped': '供应未中断',
    'not-restored': '未见恢复',
    'no-readings': '无读数',
    min: '分钟',
  },
  en: {
    nav: 'Planned outages',
    plan: 'Plan an outage',
    utility: 'Utility',
    electricity: 'Power',
    water: 'Water',
    heat: 'Heating',
    node: 'Node (feeder, substation, building, riser)',
    from: 'From',
    to: 'Until',
    reason: 'Reason',
    planBtn: 'Submit the plan',
    planned: 'Submitted; a supervisor of the utility approves it. No. ',
    list: 'Outages',
    none: 'No outages planned.',
    window: 'Window',
    phase: 'State',
    by: 'Planned by',
    decided: 'Decided by',
    reach: 'Reaches',
    outcome: 'What the readings showed',
    approve: 'Approve and publish',
    reject: 'Reject',
    cancel: 'Cancel',
    note: 'Note',
    buildings: 'buildings',
    rooms: 'rooms/units',
    accounts: 'accounts',
    notices: 'Notices (print)',
    'awaiting-approval': 'Awaiting approval',
    announced: 'Announced',
    'in-progress': 'In progress',
    settling: 'Settling',
    ended: 'Ended',
    rejected: 'Rejected',
    cancelled: 'Cancelled',
    'as-planned': 'As planned',
    'started-late': 'Started late',
    'started-early': 'Started early',
    overran: 'Overran',
    'supply-not-stopped': 'Supply did not stop',
    'not-restored': 'Not seen restored',
    'no-readings': 'No readings',
    min: 'min',
  },
};

const s = wordsOf(S);

function planForm(reload) {
  const utility = h(
    'select',
    { name: 'utility' },
    ['electricity', 'water', 'heat'].map((u) => h('option', { value: u }, s(u))),
  );
  const nodes = h('datalist', { id: 'outage-nodes' });
  const node = h('input', { name: 'node', list: 'outage-nodes', required: true, autocomplete: 'off' });
  const from = dateTimeInput({ name: 'startsAt', required: true });
  const to = dateTimeInput({ name: 'endsAt', required: true });
  const reason = h('input', { name: 'reason', required: true, maxlength: 2000 });
  // The tree names every node an outage may be planned on; a failure leaves the field free text.
  get('/api/campus/tree')
    .then((tree) => {
      const fill = () => {
        clear(nodes);
        for (const n of Object.values(tree.nodes))
          if (n.kind === utility.value && n.children.length > 0)
            nodes.append(h('option', { value: n.id }, `${n.name} (${n.role})`));
      };
      utility.addEventListener('change', fill);
      fill();
    })
    .catch(() => undefined);
  const tomorrow = Date.now() + 2 * 86_400_000;
  from.value = toLocalInput(Math.ceil(tomorrow / 3_600_000) * 3_600_000).slice(0, 16);
  to.value = toLocalInput(Math.ceil(tomorrow / 3_600_000) * 3_600_000 + 4 * 3_600_000).slice(0, 16);
  return formCard({
    section: 'plan-outage',
    title: s('plan'),
    fields: [
      field(s('utility'), utility),
      field(s('node'), node),
      nodes,
      field(s('from'), from),
      field(s('to'), to),
      field(s('reason'), reason),
    ],
    submit: s('planBtn'),
    send: () =>
      post('/api/outages', {
        utility: utility.value,
        node: node.value.trim(),
        startsAt: fromLocalInput(from.value),
        endsAt: fromLocalInput(to.value),
        reason: reason.value.trim(),
      }),
    done: (o) => `${s('planned')}${o.id}`,
    reload,
  });
}

function outcome(o) {
  const obs = o.observation;
  if (!obs) return '–';
  const parts = obs.verdicts.map((v) => s(v));
  if (obs.startedLateMs > 0) parts.push(`+${Math.round(obs.startedLateMs / 60_000)} ${s('min')} ↦`);
  if (obs.overranMs > 0) parts.push(`↤ +${Math.round(obs.overranMs / 60_000)} ${s('min')}`);
  return parts.join(', ');
}

function notices(o) {
  if (o.publishedAt === null) return '–';
  return h(
    'span',
    { class: 'controls' },
    o.affected.buildings.flatMap((b) =>
      ['zh', 'en'].map((lang) =>
        h(
          'a',
          {
            href: `/public/outages/${o.id}/notice/${encodeURIComponent(b.id)}?lang=${lang}`,
            target: '_blank',
            rel: 'noopener',
            dataset: { notice: `${b.id}:${lang}` },
          },
          `${b.name} (${lang})`,
        ),
      ),
    ),
  );
}

function actions(o, can, reload, msg) {
  // A note goes with every step when one is typed (a rejection's or a cancellation's reason).
  const step = (path, kind) => ({ path, kind, label: s(path), body: (text) => (text ? { note: text } : {}) });
  const steps = [];
  if (o.state === 'planned' && can('outages.approve')) steps.push(step('approve'), step('reject', 'danger'));
  if (
    (o.state === 'planned' && can('outages.plan')) ||
    (o.state === 'approved' && o.phase === 'announced' && can('outages.approve'))
  )
    steps.push(step('cancel', 'danger'));
  return stepControls({ url: `/api/outages/${o.id}`, noteLabel: s('note'), steps, msg, reload });
}

function list(can) {
  return listCard({
    section: 'outages',
    title: s('list'),
    none: s('none'),
    fetch: () => get('/api/outages'),
    draw: (items, { load, msg }) =>
      table(
        items,
        [
          ['#', (o) => String(o.id)],
          [s('utility'), (o) => s(o.utility)],
          [s('node'), (o) => o.nodeName],
          [s('window'), (o) => `${fmtTime(o.startsAt)} – ${fmtTime(o.endsAt)}`],
          [s('reason'), (o) => o.reason],
          [s('phase'), (o) => h('span', { class: 'badge', dataset: { phase: o.phase } }, s(o.phase))],
          [s('by'), (o) => o.plannedBy],
          [s('decided'), (o) => o.decidedBy ?? '–'],
          [
            s('reach'),
            (o) =>
              `${o.affected.buildings.length} ${s('buildings')}, ${o.affected.rooms.length} ${s('rooms')}, ${o.affected.accounts.length} ${s('accounts')}`,
          ],
          [s('notices'), notices],
          [s('outcome'), outcome],
          ['', (o) => actions(o, can, load, msg)],
        ],
        (o) => ({ dataset: { outage: o.id, state: o.state } }),
      ),
  });
}

export const outagesPage = deskPage({
  id: 'outages',
  s,
  permission: 'outages.view',
  async render(main, _params, ctx) {
    const l = list(ctx.can);
    main.append(h('h1', {}, s('nav')), ...(ctx.can('outages.plan') ? [planForm(l.load)] : []), l.el);
  },
});
