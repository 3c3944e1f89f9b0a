/* global setInterval, clearInterval, setTimeout */
import { get, stream } from './api.js';
import { clear, fmtNum, fmtTime, h, note } from './dom.js';
import { t } from './i18n.js';

/**
 * Live readings: each site's metering tree (substations → feeders → buildings → …) with every
 * meter's power and today's energy, kept current by the reading stream. A meter whose last
 * reading is an error, or which has not reported for a while, is marked (class and text), never
 * shown with an old value as if it were fresh.
 */

/** The value shown as "power" per kind, and the unit of "today". */
const PRIMARY = {
  electricity: { quantity: 'power_kw', unit: 'kW', todayUnit: 'kWh' },
  heat: { quantity: 'power_kw', unit: 'kW', todayUnit: 'kWh' },
  water: { quantity: 'flow_m3h', unit: 'm³/h', todayUnit: 'm³' },
  group: null,
};

const readingsOf = (data) => (Array.isArray(data) ? data : (data?.readings ?? []));

/** Whether a reading is fresh, stale, an error, or missing; the text says why. */
export function statusOf(reading) {
  if (!reading) return { status: 'nodata', text: t('status.nodata') };
  if (reading.quality === 'error') {
    return {
      status: 'error',
      text: `${t('status.error')}${reading.error?.code ? `: ${reading.error.code}` : ''}`,
    };
  }
  // Since when, as the time of day (the full time is the cell's tooltip).
  if (reading.stale)
    return { status: 'stale', text: `${t('status.stale')} · ${fmtTime(reading.ts).slice(11)}` };
  return { status: 'ok', text: t('status.ok') };
}

export async function getTree(ctx) {
  ctx.cache.tree ??= await get('/api/campus/tree');
  return ctx.cache.tree;
}

export const livePage = {
  id: 'live',
  nav: 'nav.live',
  allowed: (can) => can('readings.view'),
  async render(main, _params, ctx) {
    const loading = note(t('loading'));
    main.append(loading);
    const [tree, latest] = await Promise.all([getTree(ctx), get('/api/readings/latest')]);
    loading.remove();
    const readings = new Map(readingsOf(latest).map((r) => [r.meter, r]));
    const rows = new Map();

    const connection = h('span', { class: 'conn', 'data-conn': 'down' }, t('live.disconnected'));
    const counts = h('span', { class: 'counts' });
    const filter = h('input', {
      type: 'search',
      placeholder: t('live.filter'),
      'aria-label': t('live.filter'),
      oninput: () => applyFilter(),
    });
    main.append(h('div', { class: 'page-head' }, h('h1', {}, t('live.title')), connection, counts, filter));

    const cell = (cls) => h('span', { class: cls });
    const nodeView = (id, depth) => {
      const node = tree.nodes[id];
      if (!node) return null;
      const primary = PRIMARY[node.kind];
      const label = node.name && node.name !== id ? `${node.name} (${id})` : id;
      const row = h(
        'div',
        { class: 'node-row', dataset: { meter: id, role: node.role, kind: node.kind } },
        h(
          'span',
          { class: 'node-name' },
          h('span', { class: `kind kind-${node.kind}`, title: node.kind }, ''),
          primary ? h('a', { href: `#/meter/${encodeURIComponent(id)}` }, label) : label,
          node.relay ? h('span', { class: 'badge' }, 'relay') : null,
        ),
        primary ? [cell('power'), cell('today'), cell('status')] : null,
      );
      if (primary) rows.set(id, { row, node, primary });
      const children = node.children.map((c) => nodeView(c, depth + 1)).filter(Boolean);
      if (children.length === 0) return h('li', { dataset: { node: id } }, row);
      return h(
        'li',
        { dataset: { node: id } },
        h('details', { open: depth < 3 }, h('summary', {}, row), h('ul', { class: 'tree' }, children)),
      );
    };

    const body = h('div', { class: 'live' });
    for (const site of tree.sites) {
      body.append(
        h(
          'section',
          { class: 'site card', dataset: { site: site.id } },
          h('h2', {}, site.name || site.id),
          h(
            'div',
            { class: 'tree-head' },
            h('span', {}, t('col.name')),
            h('span', {}, t('col.power')),
            h('span', {}, t('col.today')),
            h('span', {}, t('col.status')),
          ),
          h(
            'ul',
            { class: 'tree root' },
            site.roots.map((r) => nodeView(r, 0)),
          ),
        ),
      );
    }
    main.append(body);

    const update = (id) => {
      const entry = rows.get(id);
      if (!entry) return;
      const r = readings.get(id);
      const { status, text } = statusOf(r);
      const { row, primary } = entry;
      row.classList.remove('status-ok', 'status-stale', 'status-error', 'status-nodata');
      row.classList.add(`status-${status}`);
      row.dataset.status = status;
      const value = r?.quality !== 'error' ? r?.values?.[primary.quantity] : undefined;
      const power = row.querySelector('.power');
      power.textContent = value === undefined ? '–' : `${fmtNum(value, 3)} ${primary.unit}`;
      if (value !== undefined) power.dataset.value = String(value);
      else delete power.dataset.value;
      row.querySelector('.today').textContent =
        r?.today === undefined || r?.today === null ? '–' : `${fmtNum(r.today, 2)} ${primary.todayUnit}`;
      const s = row.querySelector('.status');
      s.textContent = text;
      s.title = r ? fmtTime(r.ts) : '';
    };
    const updateCounts = () => {
      const c = { ok: 0, stale: 0, error: 0, nodata: 0 };
      for (const id of rows.keys()) c[statusOf(readings.get(id)).status]++;
      clear(counts).append(
        ...['ok', 'stale', 'error', 'nodata'].map((k) =>
          h('span', { class: `count status-${k}`, dataset: { count: k } }, `${t(`status.${k}`)} ${c[k]}`),
        ),
      );
    };
    const applyFilter = () => {
      const q = filter.value.trim().toLowerCase();
      for (const li of body.querySelectorAll('li[data-node]')) {
        const text = li.textContent.toLowerCase();
        li.hidden = q !== '' && !text.includes(q) && !li.dataset.node.toLowerCase().includes(q);
      }
    };
    for (const id of rows.keys()) update(id);
    updateCounts();

    let countsDue = false;
    const close = stream(
      '/api/readings/stream',
      'reading',
      (r) => {
        readings.set(r.meter, r);
        update(r.meter);
        if (!countsDue) {
          countsDue = true;
          setTimeout(() => {
            countsDue = false;
            updateCounts();
          }, 500);
        }
      },
      (up) => {
        connection.dataset.conn = up ? 'up' : 'down';
        connection.textContent = up ? t('live.connected') : t('live.disconnected');
      },
    );
    ctx.onCleanup(close);
    // Staleness is the server's judgement: take it again now and then, for meters gone quiet.
    const refresh = setInterval(async () => {
      try {
        for (const r of readingsOf(await get('/api/readings/latest'))) {
          const known = readings.get(r.meter);
          if (!known || known.ts <= r.ts) readings.set(r.meter, r);
        }
        for (const id of rows.keys()) update(id);
        updateCounts();
      } catch {
        // The stream still runs; the next refresh tries again.
      }
    }, 30_000);
    ctx.onCleanup(() => clearInterval(refresh));
  },
};
