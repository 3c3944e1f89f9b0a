/* global setTimeout, clearTimeout */
import { get, post, qs, stream } from './api.js';
import { timeChart } from './chart.js';
import { clear, field, fmtNum, fmtTime, h, note, table } from './dom.js';
import { t } from './i18n.js';

/**
 * The inspectors' inbox: alerts newest first, live through the alert stream; one alert with its
 * evidence (figures, the series window, ranked suspects) and the steps to take it through
 * assigned → field-checked → confirmed, or dismissed. Supervisors see, inspectors act.
 */

const UNDECIDED = ['open', 'assigned', 'field-checked'];

/** Which actions an alert in `state` allows (services/inspection/detection/alerts.ts). */
const ACTIONS = {
  open: ['assign', 'dismiss'],
  assigned: ['assign', 'field-check', 'dismiss'],
  'field-checked': ['confirm', 'dismiss'],
};

function stateBadge(state) {
  return h('span', { class: `badge state-${state}`, dataset: { state } }, t(`state.${state}`));
}

function listView(main, ctx, query) {
  const all = query.get('all') === '1';
  const box = h('div', {});
  const flash = h('div', { 'aria-live': 'polite' });
  main.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, t('alerts.title')),
      h(
        'span',
        { class: 'tabs' },
        h('a', { href: '#/alerts', class: all ? '' : 'active' }, t('alerts.open')),
        h('a', { href: '#/alerts?all=1', class: all ? 'active' : '' }, t('alerts.all')),
      ),
      flash,
    ),
    box,
  );
  const load = async () => {
    const alerts = await get(`/api/alerts${qs({ limit: 500 })}`);
    const shown = all ? alerts : alerts.filter((a) => UNDECIDED.includes(a.state));
    clear(box).append(
      shown.length === 0
        ? note(t('none'))
        : table(
            shown,
            [
              [
                'col.seq',
                (a) => h('a', { href: `#/alerts/${a.id}`, dataset: { alertLink: a.id } }, `#${a.id}`),
              ],
              ['col.type', (a) => a.type],
              ['col.severity', (a) => h('span', { class: `sev sev-${a.severity}` }, a.severity)],
              ['col.meter', (a) => a.meter ?? a.node ?? '–'],
              ['col.reason', (a) => a.reason],
              ['col.score', (a) => fmtNum(a.score, 2)],
              ['col.since', (a) => fmtTime(a.since)],
              ['col.state', (a) => stateBadge(a.state)],
              ['col.assignee', (a) => a.assignee ?? ''],
            ],
            (a) => ({ dataset: { alert: a.id, state: a.state }, class: a.active ? 'active' : 'inactive' }),
          ),
    );
  };
  let due;
  const close = stream('/api/alerts/stream', 'alert', () => {
    clear(flash).append(note(t('alert.updated')));
    clearTimeout(due);
    due = setTimeout(() => void load().catch(() => {}), 300);
  });
  ctx.onCleanup(() => {
    clearTimeout(due);
    close();
  });
  return load();
}

function actionForm(alert, action, ctx, done) {
  const notes = h('textarea', { name: 'notes', rows: 2, required: action !== 'assign' });
  const inspector = h('input', { name: 'inspector', value: alert.assignee ?? ctx.actor.id, required: true });
  const message = h('div', {});
  return h(
    'form',
    {
      class: 'action-form',
      dataset: { action },
      onsubmit: async (e) => {
        e.preventDefault();
        clear(message);
        const body =
          action === 'assign'
            ? {
                inspector: inspector.value.trim(),
                ...(notes.value.trim() ? { notes: notes.value.trim() } : {}),
              }
            : { notes: notes.value.trim() };
        try {
          await post(`/api/alerts/${alert.id}/${action}`, body);
          done();
        } catch (err) {
          message.append(note(t('error', { message: err.message }), 'error'));
        }
      },
    },
    action === 'assign' ? field('alert.assign.to', inspector) : null,
    field('alert.notes', notes),
    h('button', { type: 'submit', class: action === 'dismiss' ? 'danger' : 'primary' }, t(`alert.${action}`)),
    message,
  );
}

async function detailView(main, id, ctx) {
  const box = h('div', {});
  main.append(h('p', {}, h('a', { href: '#/alerts' }, `← ${t('alert.back')}`)), box);
  let chart;
  const load = async () => {
    const a = await get(`/api/alerts/${encodeURIComponent(id)}`);
    chart?.destroy();
    chart = undefined;
    clear(box);
    box.append(
      h(
        'div',
        { class: 'page-head' },
        h('h1', {}, t('alert.title', { id: a.id }), ' · ', a.type),
        stateBadge(a.state),
        h('span', { class: `sev sev-${a.severity}` }, a.severity),
        h('span', { class: 'badge' }, a.active ? t('alert.active') : t('alert.inactive')),
      ),
      h('p', { class: 'reason' }, a.reason),
      h(
        'dl',
        { class: 'facts' },
        a.meter
          ? [
              h('dt', {}, t('col.meter')),
              h('dd', {}, h('a', { href: `#/meter/${encodeURIComponent(a.meter)}` }, a.meter)),
            ]
          : null,
        a.node ? [h('dt', {}, 'node'), h('dd', {}, a.node)] : null,
        h('dt', {}, t('col.since')),
        h('dd', {}, fmtTime(a.since)),
        h('dt', {}, t('col.score')),
        h('dd', {}, fmtNum(a.score, 3)),
        a.assignee
          ? [h('dt', {}, t('col.assignee')), h('dd', { dataset: { field: 'assignee' } }, a.assignee)]
          : null,
        a.unexplained !== undefined
          ? [h('dt', {}, 'unexplained'), h('dd', {}, fmtNum(a.unexplained, 2))]
          : null,
      ),
    );
    const figures = Object.entries(a.evidence?.figures ?? {});
    box.append(
      h(
        'section',
        { class: 'card', dataset: { section: 'figures' } },
        h(
          'h2',
          {},
          t('alert.figures'),
          ' ',
          h('small', {}, `${fmtTime(a.evidence.from)} – ${fmtTime(a.evidence.to)}`),
        ),
        figures.length
          ? h(
              'dl',
              { class: 'facts' },
              figures.map(([k, v]) => [
                h('dt', {}, k),
                h('dd', {}, typeof v === 'number' ? fmtNum(v, 3) : v),
              ]),
            )
          : note(t('none')),
      ),
    );
    const series = a.evidence?.series ?? [];
    if (series.length) {
      const chartBox = h(
        'section',
        { class: 'card chart-card', dataset: { section: 'series' } },
        h('h2', {}, t('alert.series')),
      );
      box.append(chartBox);
      chart = timeChart(chartBox, {
        series: series.map((s) => ({ label: `${s.meter} ${s.quantity}`, points: s.points })),
        bands: [{ from: a.since, to: a.evidence.to, kind: 'window' }],
      });
    }
    const suspects = [...(a.suspects ?? [])].sort((x, y) => y.score - x.score);
    box.append(
      h(
        'section',
        { class: 'card', dataset: { section: 'suspects' } },
        h('h2', {}, t('alert.suspects')),
        suspects.length
          ? table(
              suspects,
              [
                ['col.meter', (s) => h('a', { href: `#/meter/${encodeURIComponent(s.meter)}` }, s.meter)],
                ['col.score', (s) => fmtNum(s.score, 3)],
                ['col.reason', (s) => s.reasons.join('; ')],
              ],
              (s) => ({ dataset: { suspect: s.meter } }),
            )
          : note(t('none')),
      ),
      h(
        'section',
        { class: 'card', dataset: { section: 'steps' } },
        h('h2', {}, t('alert.steps')),
        table(a.steps ?? [], [
          ['col.time', (s) => fmtTime(s.at)],
          ['col.state', (s) => stateBadge(s.state)],
          ['col.by', (s) => s.by],
          ['col.assignee', (s) => s.assignee ?? ''],
          ['col.notes', (s) => s.notes ?? ''],
        ]),
      ),
    );
    const actions = ctx.can('alerts.handle') ? (ACTIONS[a.state] ?? []) : [];
    if (actions.length) {
      box.append(
        h(
          'section',
          { class: 'card actions', dataset: { section: 'actions' } },
          actions.map((action) => actionForm(a, action, ctx, () => void load())),
        ),
      );
    }
  };
  const close = stream('/api/alerts/stream', 'alert', (m) => {
    if (String(m.alert?.id) === String(id)) void load().catch(() => {});
  });
  ctx.onCleanup(() => {
    close();
    chart?.destroy();
  });
  await load();
}

export const alertsPage = {
  id: 'alerts',
  nav: 'nav.alerts',
  allowed: (can) => can('alerts.view'),
  render(main, params, ctx, query) {
    return params[0] ? detailView(main, params[0], ctx) : listView(main, ctx, query);
  },
};
