import { get, stream } from './api.js';
import { clear, fmtNum, fmtTime, h, note, table } from './dom.js';
import { t } from './i18n.js';

/**
 * The landing page of operators, supervisors and inspectors: the campus at a glance. Every figure
 * comes computed from GET /api/overview (the store's interval consumption, on the server); the
 * page only lays it out, keeps it live through /api/overview/stream, and makes each number a link
 * to the page where it can be checked.
 */

const link = (href, content, data) => h('a', { href, class: 'num-link', dataset: data ?? {} }, content);

/** Change in % of `now` against `before`, or null when either is unknown or before is zero. */
function change(now, before) {
  if (now === null || before === null || before === 0) return null;
  return (100 * (now - before)) / before;
}

function changeBadge(pct) {
  if (pct === null) return h('span', { class: 'delta' }, '–');
  const sign = pct > 0 ? '+' : '';
  return h(
    'span',
    { class: `delta ${pct > 10 ? 'up' : pct < -10 ? 'down' : ''}`, title: t('ov.change.title') },
    `${sign}${fmtNum(pct, 1)} %`,
  );
}

function figureText(fig, unit) {
  if (fig.value === null) return t('ov.unknown');
  return `${fmtNum(fig.value, fig.value >= 100 ? 0 : 2)} ${unit}`;
}

function incomplete(fig) {
  return fig.gaps > 0
    ? h('small', { class: 'incomplete', title: t('ov.gaps.title') }, t('ov.gaps', { n: fig.gaps }))
    : null;
}

function utilityCard(u) {
  const pctToday = change(u.today.value, u.lastWeek.value);
  const pctYesterday = change(u.yesterday.value, u.weekBeforeYesterday.value);
  return h(
    'section',
    { class: 'card stat', dataset: { utility: u.kind } },
    h('h2', {}, t(`kind.${u.kind}`)),
    h(
      'p',
      { class: 'big' },
      link('#/live', figureText(u.today, u.unit), { figure: `today-${u.kind}` }),
      ' ',
      changeBadge(pctToday),
    ),
    h(
      'p',
      { class: 'sub' },
      t('ov.today.vs', { value: figureText(u.lastWeek, u.unit) }),
      ' ',
      incomplete(u.today),
    ),
    h(
      'p',
      { class: 'sub' },
      t('ov.yesterday', {
        value: figureText(u.yesterday, u.unit),
        before: figureText(u.weekBeforeYesterday, u.unit),
      }),
      ' ',
      changeBadge(pctYesterday),
    ),
    h('p', { class: 'sub muted' }, t('ov.top.meters', { n: u.meters.length })),
  );
}

function peakCard(p) {
  return h(
    'section',
    { class: 'card stat', dataset: { section: 'peak' } },
    h('h2', {}, t('ov.peak')),
    h(
      'p',
      { class: 'big' },
      link('#/live', p.kw === null ? t('ov.unknown') : `${fmtNum(p.kw, 1)} kW`, { figure: 'peak' }),
      ' ',
      changeBadge(change(p.kw, p.lastWeekKw)),
    ),
    h('p', { class: 'sub' }, p.at === null ? '' : t('ov.peak.at', { time: fmtTime(p.at).slice(11, 16) })),
    h(
      'p',
      { class: 'sub' },
      t('ov.peak.lastweek', { kw: p.lastWeekKw === null ? '–' : fmtNum(p.lastWeekKw, 1) }),
      ' · ',
      t('ov.peak.yesterday', { kw: p.yesterdayKw === null ? '–' : fmtNum(p.yesterdayKw, 1) }),
    ),
  );
}

function countCard(section, title, rows) {
  return h(
    'section',
    { class: 'card stat', dataset: { section } },
    h('h2', {}, title),
    rows.length
      ? h(
          'dl',
          { class: 'counts' },
          rows.map(([label, n, href, key]) => [
            h('dt', {}, label),
            h('dd', {}, link(href, fmtNum(n, 0), { figure: key })),
          ]),
        )
      : note(t('ov.nothing')),
  );
}

function buildingsTable(rows) {
  return table(
    rows,
    [
      [
        'ov.col.building',
        (b) => link(`#/meter/${encodeURIComponent(b.id)}`, b.name === b.id ? b.id : `${b.name} (${b.id})`),
      ],
      ['ov.col.utility', (b) => t(`kind.${b.kind}`)],
      ['ov.col.today', (b) => h('span', {}, figureText(b.today, b.unit), ' ', incomplete(b.today))],
      ['ov.col.lastweek', (b) => figureText(b.lastWeek, b.unit)],
      ['ov.col.change', (b) => changeBadge(change(b.today.value, b.lastWeek.value))],
      ['ov.col.yesterday', (b) => figureText(b.yesterday, b.unit)],
      ['ov.col.weekbefore', (b) => figureText(b.weekBeforeYesterday, b.unit)],
      ['ov.col.change', (b) => changeBadge(change(b.yesterday.value, b.weekBeforeYesterday.value))],
    ],
    (b) => ({ dataset: { building: b.id } }),
  );
}

function lossesTable(rows) {
  return table(
    rows,
    [
      [
        'ov.col.node',
        (l) =>
          link(
            `#/balance/${encodeURIComponent(l.node)}`,
            l.name === l.node ? l.node : `${l.name} (${l.node})`,
          ),
      ],
      ['ov.col.utility', (l) => t(`kind.${l.kind}`)],
      [
        'ov.col.loss',
        (l) =>
          h(
            'span',
            { class: l.alert !== null ? 'loss above' : 'loss' },
            l.lossPercent === null ? '–' : `${fmtNum(l.lossPercent, 1)} %`,
          ),
      ],
      ['ov.col.upstream', (l) => `${fmtNum(l.upstream, 1)} ${l.unit}`],
      ['ov.col.downstream', (l) => `${fmtNum(l.downstream, 1)} ${l.unit}`],
      [
        'ov.col.band',
        (l) =>
          l.alert !== null
            ? link(`#/alerts/${l.alert}`, t('ov.above.band', { id: l.alert }), { lossAlert: l.alert })
            : t('ov.within.band'),
      ],
    ],
    (l) => ({
      dataset: { loss: l.node, above: l.alert !== null ? 'yes' : 'no' },
      class: l.alert !== null ? 'above' : undefined,
    }),
  );
}

function render(box, o, ctx) {
  const failing = o.failing;
  const counts = [];
  counts.push(
    countCard('failing', t('ov.failing'), [
      [t('ov.gateways.down'), failing.gateways.length, '#/health', 'gateways-down'],
      [t('ov.devices.paused'), failing.devices.length, '#/health', 'devices-paused'],
      [
        t('ov.meters.error'),
        failing.meters.filter((m) => m.reason === 'error').length,
        '#/health',
        'meters-error',
      ],
      [
        t('ov.meters.stale'),
        failing.meters.filter((m) => m.reason === 'stale').length,
        '#/live',
        'meters-stale',
      ],
    ]),
  );
  // Off on purpose, announced ahead: shown apart from the faults, with the outages behind them.
  if (o.inPlannedOutage?.length) {
    counts.push(
      countCard('planned-outage', t('ov.planned.outage'), [
        [t('ov.meters.in.outage'), o.inPlannedOutage.length, '#/outages', 'meters-in-outage'],
      ]),
    );
  }
  if (o.alerts) {
    counts.push(
      countCard(
        'alerts',
        t('ov.alerts', { n: o.alerts.total }),
        Object.entries(o.alerts.byType)
          .sort((a, b) => b[1] - a[1])
          .map(([type, n]) => [
            t(`atype.${type}`),
            n,
            `#/alerts?type=${encodeURIComponent(type)}`,
            `alerts-${type}`,
          ]),
      ),
    );
  }
  const approvals = [];
  if (o.approvals.relay !== undefined && ctx.can('relay.approve'))
    approvals.push([t('ov.approvals.relay'), o.approvals.relay, '#/approvals', 'approvals-relay']);
  else if (o.approvals.relay !== undefined)
    approvals.push([t('ov.approvals.relay'), o.approvals.relay, '#/relay', 'approvals-relay']);
  if (o.approvals.prepaid !== undefined)
    approvals.push([t('ov.approvals.prepaid'), o.approvals.prepaid, '#/approvals', 'approvals-prepaid']);
  if (o.approvals.lines !== undefined)
    approvals.push([t('ov.approvals.lines'), o.approvals.lines, '#/handover', 'approvals-lines']);
  if (approvals.length) counts.push(countCard('approvals', t('ov.approvals'), approvals));

  clear(box).append(
    h(
      'p',
      { class: 'muted', dataset: { field: 'window' } },
      t('ov.window', {
        from: fmtTime(o.window.from).slice(0, 16),
        to: fmtTime(o.window.to).slice(11, 16),
        at: fmtTime(o.at).slice(11, 19),
      }),
    ),
    h('div', { class: 'stat-grid' }, o.utilities.map(utilityCard), peakCard(o.peak), counts),
    h(
      'section',
      { class: 'card', dataset: { section: 'buildings' } },
      h('h2', {}, t('ov.buildings')),
      o.buildings.length ? buildingsTable(o.buildings) : note(t('ov.nothing')),
    ),
    h(
      'section',
      { class: 'card', dataset: { section: 'losses' } },
      h('h2', {}, t('ov.losses')),
      h('p', { class: 'muted' }, t('ov.losses.hint')),
      o.losses.length ? lossesTable(o.losses) : note(t('ov.nothing')),
    ),
    failing.meters.length || failing.devices.length || failing.gateways.length
      ? h(
          'section',
          { class: 'card', dataset: { section: 'failing-list' } },
          h('h2', {}, t('ov.failing.list')),
          table(
            [
              ...failing.gateways.map((g) => ({
                id: g.id,
                what: t('ov.gateway'),
                state: t(`ov.gw.${g.state}`),
                href: '#/health',
              })),
              ...failing.devices.map((d) => ({
                id: `${d.gateway} / ${d.device}`,
                what: t('ov.device'),
                state: t('ov.polling.paused'),
                href: '#/health',
              })),
              ...failing.meters.map((m) => ({
                id: m.meter,
                what: t('ov.meter'),
                state:
                  m.reason === 'error' ? t('ov.meter.error') : t('ov.meter.stale', { time: fmtTime(m.ts) }),
                href: `#/meter/${encodeURIComponent(m.meter)}`,
              })),
            ].slice(0, 50),
            [
              ['ov.col.what', (r) => r.what],
              ['ov.col.id', (r) => link(r.href, r.id)],
              ['ov.col.state', (r) => r.state],
            ],
            (r) => ({ dataset: { failing: r.id } }),
          ),
        )
      : null,
  );
}

export const overviewPage = {
  id: 'overview',
  nav: 'nav.overview',
  // Operators, supervisors and inspectors watch the campus; clerks and billing start elsewhere.
  allowed: (can) => can('readings.view') && (can('lines.confirm') || can('alerts.view')),
  async render(main, _params, ctx) {
    const status = h('span', { class: 'live-state', dataset: { live: 'connecting' } }, t('ov.connecting'));
    const box = h('div', { dataset: { overview: 'loading' } }, note(t('ov.loading')));
    main.append(h('div', { class: 'page-head' }, h('h1', {}, t('ov.title')), status), box);
    const show = (o) => {
      render(box, o, ctx);
      box.dataset.overview = 'ready';
    };
    show(await get('/api/overview'));
    const close = stream(
      '/api/overview/stream',
      'overview',
      (o) => show(o),
      (up) => {
        status.dataset.live = up ? 'up' : 'down';
        clear(status).append(up ? t('ov.live') : t('ov.reconnecting'));
      },
    );
    ctx.onCleanup(close);
  },
};
