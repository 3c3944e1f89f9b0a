/* global setInterval, clearInterval, setTimeout */
import { get, stream } from './api.js';
import { clear, fmtNum, fmtTime, h, note } from './dom.js';
import { t } from './i18n.js';
import {
  childrenOf,
  COLUMNS,
  errorKey,
  sections,
  stateOf,
  totalOf,
  utilityOf,
  valueOf,
} from './live-model.js';

/** A reading error in the operator's words ("No answer in time"), the code where none exist. */
export function errorText(error) {
  if (!error?.code) return '';
  const key = errorKey(error.code, (k) => t(k) !== k);
  return key ? t(key) : error.code;
}

/**
 * Live readings for the power-room operator: the metering tree by utility (electricity, then
 * water, then heat), each quantity in its own column with its unit, and under every node with
 * meters below it the sum of the quantities that add up (power, energy, flow, volume; never
 * voltage or temperature). Names in natural order. Kept current by the reading stream.
 *
 * A meter whose last reading is an error, or which has not reported for a while, is marked
 * (class and text), never shown with an old value as if it were fresh. A meter in an approved
 * planned outage is marked "planned outage", not failing: its supply is off on purpose.
 */

const readingsOf = (data) => (Array.isArray(data) ? data : (data?.readings ?? []));

/** Whether a reading is fresh, stale, an error, missing, or in a planned outage; the text says why. */
export function statusOf(reading, outage) {
  const status = stateOf(reading, outage);
  if (status === 'outage') return { status, text: t('live.outage', { id: outage }) };
  if (status === 'nodata') return { status, text: t('status.nodata') };
  if (status === 'error') {
    return {
      status,
      text: `${t('status.error')}${reading.error?.code ? `: ${errorText(reading.error)}` : ''}`,
    };
  }
  // Since when, as the time of day (the full time is the cell's tooltip).
  if (status === 'stale') return { status, text: `${t('status.stale')} · ${fmtTime(reading.ts).slice(11)}` };
  return { status, text: t('status.ok') };
}

export async function getTree(ctx) {
  ctx.cache.tree ??= await get('/api/campus/tree');
  return ctx.cache.tree;
}

const STATES = ['ok', 'outage', 'stale', 'error', 'nodata'];

/** "12.5 kW", or "–" without a value. */
function shown(value, column) {
  return value === undefined ? '–' : `${fmtNum(value, column.digits)} ${column.unit}`;
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
    // The stream's readings do not say whether a meter is in a planned outage; /latest does.
    const outages = new Map();
    const takeOutages = (list) => {
      outages.clear();
      for (const r of list) if (r.plannedOutage !== undefined) outages.set(r.meter, r.plannedOutage);
    };
    takeOutages(readingsOf(latest));
    const readingOf = (id) => readings.get(id);
    const outageOf = (id) => outages.get(id);
    /** Meter rows by id, and every place a total is shown. */
    const rows = new Map();
    const totals = [];

    const connection = h('span', { class: 'conn', 'data-conn': 'down' }, t('live.disconnected'));
    const counts = h('span', { class: 'counts' });
    const filter = h('input', {
      type: 'search',
      placeholder: t('live.filter'),
      'aria-label': t('live.filter'),
      oninput: () => applyFilter(),
    });
    main.append(
      h(
        'div',
        { class: 'page-head', dataset: { section: 'live' } },
        h('h1', {}, t('live.title')),
        connection,
        counts,
        filter,
      ),
    );

    const headOf = (columns) =>
      h(
        'div',
        { class: 'tree-head lv-grid' },
        h('span', {}, t('col.name')),
        columns.map((c) => h('span', { class: 'num' }, `${t(`live.col.${c.key}`)} (${c.unit})`)),
        h('span', {}, t('col.status')),
      );

    /** The cells of one row: each column's own value, and below it the total of `below` if any. */
    const valueCells = (columns, below) =>
      columns.map((c) => {
        const el = h(
          'span',
          // On a phone each value is labelled by its quantity; the value carries its unit.
          { class: `num ${c.key}`, dataset: { label: t(`live.col.${c.key}`) } },
          h('span', { class: 'own' }),
        );
        if (below.length > 0 && c.sums) {
          const sum = h('span', { class: 'sum', dataset: { sum: c.key } });
          el.append(sum);
          totals.push({ el: sum, ids: below, column: c });
        }
        return el;
      });

    const nodeView = (id, depth, columns) => {
      const node = tree.nodes[id];
      if (!node) return null;
      const meter = node.kind !== 'group';
      const below = childrenOf(tree, id);
      const label = node.name && node.name !== id ? `${node.name} (${id})` : id;
      const row = h(
        'div',
        { class: 'node-row lv-grid', dataset: { meter: id, role: node.role, kind: node.kind } },
        h(
          'span',
          { class: 'node-name' },
          h('span', { class: `kind kind-${utilityOf(node)}`, title: t(`kind.${utilityOf(node)}`) }, ''),
          meter ? h('a', { href: `#/meter/${encodeURIComponent(id)}` }, label) : label,
          node.relay ? h('span', { class: 'badge' }, t('live.relay')) : null,
        ),
        valueCells(columns, below),
        h('span', { class: 'status' }),
      );
      if (meter) rows.set(id, { row, columns });
      const children = below.map((c) => nodeView(c, depth + 1, columns)).filter(Boolean);
      if (children.length === 0) return h('li', { dataset: { node: id } }, row);
      return h(
        'li',
        { dataset: { node: id } },
        h('details', { open: depth < 2 }, h('summary', {}, row), h('ul', { class: 'tree' }, children)),
      );
    };

    const body = h('div', { class: 'lv-utilities' });
    for (const { utility, sites } of sections(tree)) {
      const columns = COLUMNS[utility];
      body.append(
        h(
          'section',
          {
            // The column count as a class: the page's CSP forbids style attributes.
            class: `card lv-utility lv-cols-${columns.length}`,
            dataset: { utility },
          },
          h('h2', {}, h('span', { class: `kind kind-${utility}` }, ''), t(`live.utility.${utility}`)),
          sites.map((site) => {
            const siteTotals = columns
              .filter((c) => c.sums)
              .map((c) => {
                const el = h('span', { class: 'sum', dataset: { sum: c.key } });
                totals.push({ el, ids: site.roots, column: c, labelled: true });
                return el;
              });
            return h(
              'div',
              { class: 'lv-site', dataset: { site: site.id } },
              h('h3', {}, site.name || site.id, h('span', { class: 'lv-site-total' }, siteTotals)),
              headOf(columns),
              h(
                'ul',
                { class: 'tree root' },
                site.roots.map((r) => nodeView(r, 0, columns)),
              ),
            );
          }),
        ),
      );
    }
    main.append(body);

    const update = (id) => {
      const entry = rows.get(id);
      if (!entry) return;
      const r = readings.get(id);
      const { status, text } = statusOf(r, outages.get(id));
      const { row, columns } = entry;
      for (const s of STATES) row.classList.remove(`status-${s}`);
      row.classList.add(`status-${status}`);
      row.dataset.status = status;
      // An old value stays visible (greyed) beside the state that explains it.
      if (r?.stale) row.dataset.stale = '';
      else delete row.dataset.stale;
      for (const c of columns) {
        const cell = row.querySelector(`:scope > .${c.key}`);
        const value = valueOf(r, c);
        cell.querySelector('.own').textContent = shown(value, c);
        if (value !== undefined) cell.dataset.value = String(value);
        else delete cell.dataset.value;
      }
      const s = row.querySelector(':scope > .status');
      s.textContent = text;
      // The time of the reading, and for an error its code and the gateway's message.
      s.title = [r ? fmtTime(r.ts) : '', r?.error ? `${r.error.code}: ${r.error.message ?? ''}` : '']
        .filter(Boolean)
        .join(' · ');
    };
    const updateTotals = () => {
      for (const { el, ids, column, labelled } of totals) {
        const { sum, counted, missing } = totalOf(tree, ids, column, readingOf, outageOf);
        el.dataset.value = String(sum);
        el.dataset.missing = String(missing);
        const text = `Σ ${fmtNum(sum, column.digits)} ${column.unit}`;
        el.textContent = labelled ? `${t(`live.col.${column.key}`)} ${text}` : text;
        el.classList.toggle('incomplete', missing > 0);
        el.title = t('live.sum.title', { counted, missing });
        if (missing > 0)
          el.append(h('span', { class: 'missing' }, ` (${t('live.sum.missing', { missing })})`));
      }
    };
    const updateCounts = () => {
      const c = Object.fromEntries(STATES.map((s) => [s, 0]));
      for (const id of rows.keys()) c[stateOf(readings.get(id), outages.get(id))]++;
      clear(counts).append(
        ...STATES.map((k) =>
          h(
            'span',
            { class: `count status-${k}`, dataset: { count: k } },
            `${k === 'outage' ? t('live.outage.count') : t(`status.${k}`)} ${c[k]}`,
          ),
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
    const updateAll = () => {
      for (const id of rows.keys()) update(id);
      updateTotals();
      updateCounts();
    };
    updateAll();

    let summaryDue = false;
    const close = stream(
      '/api/readings/stream',
      'reading',
      (r) => {
        readings.set(r.meter, r);
        update(r.meter);
        if (!summaryDue) {
          summaryDue = true;
          setTimeout(() => {
            summaryDue = false;
            updateTotals();
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
    // Staleness and planned outages are the server's judgement: take them again now and then.
    const refresh = setInterval(async () => {
      try {
        const list = readingsOf(await get('/api/readings/latest'));
        takeOutages(list);
        for (const r of list) {
          const known = readings.get(r.meter);
          if (!known || known.ts <= r.ts) readings.set(r.meter, r);
        }
        updateAll();
      } catch {
        // The stream still runs; the next refresh tries again.
      }
    }, 30_000);
    ctx.onCleanup(() => clearInterval(refresh));
  },
};
