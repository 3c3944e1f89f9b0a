/* global setTimeout, clearTimeout */
import { get, qs, stream } from './api.js';
import { clear, fmtNum, fmtTime, h, note } from './dom.js';
import { getLang, t } from './i18n.js';
import { localSource, pagedList } from './list.js';
import { detailView, foundText, severityBadge, stateBadge } from './page-alert-detail.js';

/**
 * The inspectors' inbox: alerts newest first, live through the alert stream; one alert with its
 * evidence (figures, the series window, ranked suspects) and the steps to take it through
 * assigned → field-checked → confirmed, or dismissed. Supervisors see, inspectors act.
 */

const UNDECIDED = ['open', 'assigned', 'field-checked'];
/** The newest alerts the page holds; searched and paged here, a page of 100 at a time. */
const NEWEST = 2000;

const EMPTY = {
  zh: {
    open: '没有待处理的告警：检测每 5 分钟运行一次，新告警会自动出现在这里。',
    all: '还没有告警：检测每 5 分钟运行一次，新告警会自动出现在这里。',
    search: '按编号、类型、表号、节点或处理人搜索',
    loading: '正在加载告警……',
  },
  en: {
    open: 'No open alerts: detection runs every 5 minutes and new alerts appear here by themselves.',
    all: 'No alerts yet: detection runs every 5 minutes and new alerts appear here by themselves.',
    search: 'Search by number, type, meter, node or inspector',
    loading: 'Loading alerts…',
  },
};
const empty = (key) => (EMPTY[getLang()] ?? EMPTY.en)[key];

function listView(main, ctx, query) {
  const all = query.get('all') === '1';
  // ?type=… from the overview's counts: only that type.
  const type = query.get('type');
  const box = h('div', {}, note(empty('loading')));
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
  let q = '';
  const load = async () => {
    const alerts = await get(`/api/alerts${qs({ limit: NEWEST })}`);
    const shown = (all ? alerts : alerts.filter((a) => UNDECIDED.includes(a.state))).filter(
      (a) => !type || a.type === type,
    );
    const list = pagedList({
      name: 'alerts',
      q,
      placeholder: empty('search'),
      empty: empty(all ? 'all' : 'open'),
      fetchPage: (page) => {
        q = page.q;
        return localSource(shown, (a) =>
          [`#${a.id}`, t(`atype.${a.type}`), a.type, a.meter, a.node, a.assignee, t(`state.${a.state}`)].join(
            ' ',
          ),
        )(page);
      },
      columns: [
        ['col.seq', (a) => h('a', { href: `#/alerts/${a.id}`, dataset: { alertLink: a.id } }, `#${a.id}`)],
        ['col.type', (a) => t(`atype.${a.type}`)],
        ['col.severity', (a) => severityBadge(a.severity)],
        ['col.meter', (a) => a.meter ?? a.node ?? '–'],
        ['col.reason', (a) => foundText(a)],
        ['col.score', (a) => fmtNum(a.score, 2)],
        ['col.since', (a) => fmtTime(a.since)],
        ['col.state', (a) => stateBadge(a.state)],
        ['col.assignee', (a) => a.assignee ?? ''],
      ],
      rowAttrs: (a) => ({
        dataset: { alert: a.id, state: a.state },
        class: a.active ? 'active' : 'inactive',
      }),
    });
    clear(box).append(list.el);
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
