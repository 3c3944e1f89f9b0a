import { get, post, qs, stream } from './api.js';
import { scatterChart, timeChart } from './chart.js';
import { clear, field, fmtNum, fmtTime, h, note, table } from './dom.js';
import { t } from './i18n.js';
import { FIGURES, MODELS } from './words-evidence.js';

/**
 * One alert as an inspector checks it: what was found in a sentence (made here from the alert's
 * type and figures, in the reader's language: the server's English reason is not shown), a chart
 * of its evidence chosen by its type, every figure under a label an inspector uses with its unit,
 * the suspects, the steps, and the actions the alert's state allows.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Which actions an alert in `state` allows (services/inspection/detection/alerts.ts). */
const ACTIONS = {
  open: ['assign', 'dismiss'],
  assigned: ['assign', 'field-check', 'dismiss'],
  'field-checked': ['confirm', 'dismiss'],
};

export function stateBadge(state) {
  return h('span', { class: `badge state-${state}`, dataset: { state } }, t(`state.${state}`));
}

export function severityBadge(severity) {
  return h('span', { class: `sev sev-${severity}`, dataset: { severity } }, t(`sev.${severity}`));
}

/** The unit of the alert's energy figures: what the detector said, else by the meter's utility. */
function evidenceUnit(a) {
  const u = a.evidence?.unit;
  if (u === 'kWh' || u === 'm³') return u;
  const id = a.node ?? a.meter ?? '';
  return id.startsWith('W-') ? 'm³' : 'kWh';
}

function unitText(unit, a) {
  if (unit === 'evidence') return evidenceUnit(a);
  if (unit === 'evidence-per-hour') return `${evidenceUnit(a)}/h`;
  if (unit === 'evidence-per-day') return `${evidenceUnit(a)}${t('unit.per-day')}`;
  if (unit === 'per-evidence') return `1/${evidenceUnit(a)}`;
  if (unit === 'days') return t('unit.days');
  return unit;
}

function modelText(text, short) {
  // The evidence's model line may begin with the node's id; its figures' short model name does not.
  const known = (x) => MODELS.find(([prefix]) => String(x).startsWith(prefix));
  const hit = known(text) ?? (short === undefined ? undefined : known(short));
  return t(hit ? hit[1] : 'model.other');
}

const pct = (x) => `${fmtNum(100 * Number(x), 1)} %`;

/** A figure's value as an inspector reads it, or null to leave it out. */
function figureValue(key, v, a) {
  const spec = FIGURES[key];
  if (!spec) return typeof v === 'number' ? fmtNum(v, 3) : null;
  switch (spec.as) {
    case 'hidden':
      return null;
    case 'pct':
      return pct(v);
    case 'hours':
      return `${fmtNum(Number(v), 0)} ${t('unit.hours')}`;
    case 'num':
      return `${fmtNum(Number(v), spec.digits ?? 2)}${spec.unit ? ` ${unitText(spec.unit, a)}` : ''}`;
    case 'time':
      return fmtTime(typeof v === 'number' ? v : Date.parse(String(v)));
    case 'date':
      return String(v);
    case 'enum':
      return t(`figure.${key}.${v}`);
    case 'model':
      return modelText(v);
    case 'meter-shares': {
      // "E-R1 -0.0123, E-R4 0.008": each meter with its share, as a percentage.
      const parts = String(v)
        .split(',')
        .map((x) => /^\s*(\S+)\s+(-?[\d.eE+-]+)\s*$/.exec(x))
        .filter(Boolean)
        .map((m) => `${m[1]} ${pct(m[2])}`);
      return parts.length ? parts.join(', ') : null;
    }
    case 'samples': {
      const m = /^(\d+) of (\d+)/.exec(String(v));
      return m ? t('figure.window.samples', { n: m[1], of: m[2] }) : null;
    }
    default:
      return String(v);
  }
}

function place(a) {
  return a.meter ?? a.node ?? '';
}

/**
 * What was found, in the reader's language: the server sends it as a code and parameters
 * (alert.message, services/inspection/detection/alerts.ts); numbers and units are formatted here.
 */
export function foundText(a) {
  const { code, params: p } = a.message ?? { code: `alert.${a.type}`, params: { where: place(a) } };
  const unit = p.unit ?? evidenceUnit(a);
  const key = `ad.msg.${code.replace(/^alert\./, '')}`;
  switch (code) {
    case 'alert.energy-balance':
      return t(key, {
        where: p.where,
        unexplained: fmtNum(Number(p.unexplained), 1),
        unit,
        share: pct(p.share ?? 0),
      });
    case 'alert.energy-balance.negative':
      return t(key, { where: p.where, unexplained: fmtNum(-Number(p.unexplained), 1), unit });
    case 'alert.meter-stopped':
      return t(key, { where: p.where, hours: fmtNum(Number(p.slots ?? 0), 0) });
    case 'alert.meter-backwards':
      return t(key, { where: p.where, decrease: `${fmtNum(Number(p.decrease ?? 0), 2)} ${unit}` });
    case 'alert.illegal-load':
      return t(key, {
        where: p.where,
        kw: fmtNum(Number(p.deltaPKw ?? 0), 2),
        steps: fmtNum(Number(p.steps ?? 1), 0),
      });
    case 'alert.unauthorized-heating':
      return t(key, { where: p.where, kwh: fmtNum(Number(p.maxDayKwh ?? 0), 1) });
    case 'alert.unauthorized-heating.electric':
      return t(key, { where: p.where, kwh: fmtNum(Number(p.extraKwh ?? 0), 1) });
    default:
      return t(key, { where: p.where });
  }
}

function evidenceList(a) {
  const ev = a.evidence ?? {};
  const rows = [];
  if (ev.model) rows.push([t('ad.compared'), modelText(ev.model, ev.figures?.model)]);
  const unit = evidenceUnit(a);
  if (typeof ev.expected === 'number' && ev.unit !== 'share of throughput')
    rows.push([t('ad.expected'), `${fmtNum(ev.expected, 1)} ${unit}`]);
  if (typeof ev.seen === 'number' && ev.unit !== 'share of throughput')
    rows.push([t('ad.seen'), `${fmtNum(ev.seen, 1)} ${unit}`]);
  let other = 0;
  for (const [k, v] of Object.entries(ev.figures ?? {})) {
    if (k === 'model' && ev.model) continue;
    const value = figureValue(k, v, a);
    if (value === null) continue;
    rows.push([FIGURES[k] ? t(`figure.${k}`) : `${t('figure.other')} ${++other}`, value]);
  }
  return h(
    'dl',
    { class: 'evidence-list', dataset: { evidence: 'figures' } },
    rows.map(([label, value]) => [h('dt', {}, label), h('dd', {}, value)]),
  );
}

const seriesOf = (a, quantity) => (a.evidence?.series ?? []).find((s) => s.quantity === quantity);

/** For each point of `upper`, max(upper, lower): the shaded area is then only where upper is above. */
function above(upper, lower) {
  const low = new Map(lower.map(([ts, v]) => [ts, v]));
  return upper.map(([ts, v]) => [ts, low.has(ts) && low.get(ts) !== null ? Math.max(v, low.get(ts)) : v]);
}

/** The balance alert's chart: the node and its meters hour by hour from the store, with the band. */
async function balanceChart(box, a) {
  const f = a.evidence.figures;
  const from = Math.max(a.evidence.from - DAY, a.evidence.to - 14 * DAY);
  const to = a.evidence.to;
  const status = note(t('ad.chart.loading'));
  box.append(status);
  let b;
  try {
    b = await get(`/api/balance${qs({ node: a.node, step: '1h', from, to })}`);
  } catch (err) {
    clear(status).append(t('ad.chart.failed', { message: err.message }));
    return undefined;
  }
  status.remove();
  const [c0, c1, c2] = [Number(f.bandC0 ?? 0), Number(f.bandC1 ?? 0), Number(f.bandC2 ?? 0)];
  const rows = b.intervals.filter((i) => i.upstream !== null && i.downstream !== null);
  const up = rows.map((i) => [i.start, i.upstream]);
  const down = rows.map((i) => [i.start, i.downstream]);
  // The band as the detector fitted it: technical loss = c0 + c1·load + c2·load², load = the node's hour.
  const expected = rows.map((i) => [i.start, i.downstream + c0 + c1 * i.upstream + c2 * i.upstream ** 2]);
  let unexplained = 0;
  for (let k = 0; k < rows.length; k++) {
    const ts = rows[k].start;
    if (ts >= a.evidence.from && ts < a.evidence.to) unexplained += Math.max(0, up[k][1] - expected[k][1]);
  }
  box.append(
    h('p', { class: 'chart-legend-note' }, t('ad.chart.balance')),
    h(
      'p',
      { class: 'chart-legend-note', dataset: { recomputed: String(Math.round(unexplained * 10) / 10) } },
      t('ad.recomputed', { value: fmtNum(unexplained, 1), unit: b.unit }),
    ),
  );
  return timeChart(box, {
    series: [
      { label: t('ad.s.upstream'), points: up, unit: b.unit, color: '#1f6feb', width: 2 },
      { label: t('ad.s.downstream'), points: down, unit: b.unit, color: '#2b8a3e' },
      { label: t('ad.s.expected'), points: expected, unit: b.unit, color: '#868e96', dash: [6, 4] },
      {
        label: t('ad.s.unexplained'),
        points: above(up, expected),
        unit: b.unit,
        color: 'rgba(224,49,49,0.35)',
        width: 0.5,
      },
    ],
    fills: [{ upper: 3, lower: 2, color: 'rgba(224, 49, 49, 0.3)' }],
    bands: [{ from: a.evidence.from, to: a.evidence.to, kind: 'window' }],
    range: [from, to],
  });
}

async function chartFor(box, a) {
  const ev = a.evidence ?? {};
  const window = [{ from: a.since, to: ev.to, kind: 'window' }];
  if (a.type === 'energy-balance' && a.node && !String(a.key).includes(':negative:'))
    return balanceChart(box, a);
  const seen = seriesOf(a, 'daily_seen');
  const baseline =
    seriesOf(a, 'daily_expected_baseline') ?? seriesOf(a, 'daily_expected_downstream_plus_band');
  if (seen && baseline) {
    box.append(h('p', { class: 'chart-legend-note' }, t('ad.chart.meter')));
    const unit = evidenceUnit(a);
    return timeChart(box, {
      series: [
        { label: t('ad.s.seen'), points: seen.points, unit, color: '#1f6feb', width: 2 },
        { label: t('ad.s.baseline'), points: baseline.points, unit, color: '#868e96', dash: [6, 4] },
        // The deviation either way: between the two lines wherever they part.
        {
          label: t('ad.s.deviation'),
          points: above(baseline.points, seen.points),
          unit,
          color: 'rgba(224,49,49,0.35)',
          width: 0.5,
        },
      ],
      fills: [{ upper: 2, lower: 0, color: 'rgba(224, 49, 49, 0.3)' }],
      bands: window,
    });
  }
  const power = seriesOf(a, 'power_kw');
  if (power) {
    box.append(h('p', { class: 'chart-legend-note' }, t('ad.chart.load')));
    const pf = seriesOf(a, 'pf');
    return timeChart(box, {
      series: [
        { label: t('ad.s.power'), points: power.points, unit: 'kW' },
        ...(pf ? [{ label: t('ad.s.pf'), points: pf.points }] : []),
      ],
      bands: window,
    });
  }
  const flow = seriesOf(a, 'flow_m3h');
  if (flow) {
    box.append(h('p', { class: 'chart-legend-note' }, t('ad.chart.heat')));
    const dt = seriesOf(a, 'delta_t_k');
    return timeChart(box, {
      series: [
        { label: t('ad.s.flow'), points: flow.points, unit: 'm³/h' },
        ...(dt ? [{ label: t('ad.s.deltat'), points: dt.points, unit: 'K' }] : []),
      ],
      bands: window,
    });
  }
  const hdd = seriesOf(a, 'daily_kwh_vs_hdd');
  if (hdd) {
    box.append(h('p', { class: 'chart-legend-note' }, t('ad.chart.hdd')));
    scatterChart(box, { points: hdd.points, xLabel: t('ad.x.hdd'), yLabel: t('ad.y.kwh') });
    return undefined;
  }
  const errSeen = seriesOf(a, 'daily_relative_error_seen_by_node');
  const errFitted = seriesOf(a, 'daily_relative_error_fitted_ramp');
  if (errSeen && errFitted) {
    box.append(h('p', { class: 'chart-legend-note' }, t('ad.chart.drift.meter')));
    const asPct = (points) => points.map(([ts, v]) => [ts, 100 * v]);
    return timeChart(box, {
      series: [
        { label: t('ad.s.errorSeen'), points: asPct(errSeen.points), unit: '%', color: '#1f6feb' },
        {
          label: t('ad.s.errorFitted'),
          points: asPct(errFitted.points),
          unit: '%',
          color: '#e03131',
          width: 2,
        },
      ],
      bands: window,
    });
  }
  const share = seriesOf(a, 'daily_unexplained_share');
  if (share) {
    box.append(h('p', { class: 'chart-legend-note' }, t('ad.chart.drift')));
    return timeChart(box, {
      series: [{ label: t('ad.s.share'), points: share.points.map(([ts, v]) => [ts, 100 * v]), unit: '%' }],
      bands: window,
    });
  }
  box.append(note(t('ad.chart.none')));
  return undefined;
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
          // The server's code says what to do, in the reader's language; its English message only
          // for a code this page has no words for.
          const words = t(`ad.err.${err.code}`);
          message.append(
            note(words === `ad.err.${err.code}` ? t('error', { message: err.message }) : words, 'error'),
          );
        }
      },
    },
    action === 'assign' ? field('alert.assign.to', inspector) : null,
    field('alert.notes', notes),
    h('button', { type: 'submit', class: action === 'dismiss' ? 'danger' : 'primary' }, t(`alert.${action}`)),
    message,
  );
}

export async function detailView(main, id, ctx) {
  const box = h('div', {});
  main.append(h('p', {}, h('a', { href: '#/alerts' }, `← ${t('alert.back')}`)), box);
  let chart;
  const load = async () => {
    const a = await get(`/api/alerts/${encodeURIComponent(id)}`);
    chart?.destroy?.();
    chart = undefined;
    clear(box);
    const where = a.meter
      ? h('a', { href: `#/meter/${encodeURIComponent(a.meter)}` }, a.meter)
      : h('a', { href: `#/balance/${encodeURIComponent(a.node ?? '')}` }, a.node ?? '');
    box.append(
      h(
        'div',
        { class: 'page-head' },
        h('h1', {}, t('alert.title', { id: a.id }), ' · ', t(`atype.${a.type}`)),
        stateBadge(a.state),
        severityBadge(a.severity),
        h('span', { class: 'badge' }, a.active ? t('alert.active') : t('alert.inactive')),
      ),
      h('p', { class: 'reason', dataset: { found: a.type } }, foundText(a)),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, a.meter ? t('col.meter') : t('ad.node')),
        h('dd', {}, where),
        h('dt', {}, t('ad.since')),
        h('dd', {}, fmtTime(a.since)),
        h('dt', {}, t('ad.window')),
        h('dd', {}, `${fmtTime(a.evidence.from)} – ${fmtTime(a.evidence.to)}`),
        a.assignee
          ? [h('dt', {}, t('col.assignee')), h('dd', { dataset: { field: 'assignee' } }, a.assignee)]
          : null,
      ),
    );
    const chartBox = h(
      'section',
      { class: 'card chart-card', dataset: { section: 'chart' } },
      h('h2', {}, t('ad.chart')),
    );
    box.append(
      chartBox,
      h(
        'section',
        { class: 'card', dataset: { section: 'figures' } },
        h('h2', {}, t('ad.figures')),
        evidenceList(a),
      ),
    );
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
                ['col.score', (s) => fmtNum(s.score, 2)],
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
          // System actors by what they are; people by their user name.
          ['col.by', (s) => (String(s.by).startsWith('system:') ? t(`actor.${s.by}`) : s.by)],
          ['col.assignee', (s) => s.assignee ?? ''],
          // Detection's own note on closing is a fixed phrase (alerts.ts CONDITION_ENDED): in words.
          [
            'col.notes',
            (s) =>
              s.by === 'system:detection' && s.notes === 'condition ended'
                ? t('ad.note.ended')
                : (s.notes ?? ''),
          ],
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
    chart = await chartFor(chartBox, a);
    chartBox.dataset.ready = 'yes';
  };
  const close = stream('/api/alerts/stream', 'alert', (m) => {
    if (String(m.alert?.id) === String(id)) void load().catch(() => {});
  });
  ctx.onCleanup(() => {
    close();
    chart?.destroy?.();
  });
  await load();
}
