/* global setTimeout, clearTimeout */
import { get, qs, stream } from './api.js';
import { clear, fmtNum, fmtTime, h, note, table } from './dom.js';
import { t } from './i18n.js';
import { detailView, foundText, severityBadge, stateBadge } from './page-alert-detail.js';

/**
 * The inspectors' inbox: alerts newest first, live through the alert stream; one alert with its
 * evidence (figures, the series window, ranked suspects) and the steps to take it through
 * assigned → field-checked → confirmed, or dismissed. Supervisors see, inspectors act.
 */

const UNDECIDED = ['open', 'assigned', 'field-checked'];

function listView(main, ctx, query) {
  const all = query.get('all') === '1';
  // ?type=… from the overview's counts: only that type.
  const type = query.get('type');
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
    const shown = (all ? alerts : alerts.filter((a) => UNDECIDED.includes(a.state))).filter(
      (a) => !type || a.type === type,
    );
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
              ['col.type', (a) => t(`atype.${a.type}`)],
              ['col.severity', (a) => severityBadge(a.severity)],
              ['col.meter', (a) => a.meter ?? a.node ?? '–'],
              ['col.reason', (a) => foundText(a)],
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

export const alertsPage = {
  id: 'alerts',
  nav: 'nav.alerts',
  allowed: (can) => can('alerts.view'),
  render(main, params, ctx, query) {
    return params[0] ? detailView(main, params[0], ctx) : listView(main, ctx, query);
  },
};
