import { ApiError, get, qs } from './api.js';
import { timeChart } from './chart.js';
import { clear, field, fmtTime, h, note, table } from './dom.js';
import { getLang, t } from './i18n.js';
import { getTree } from './page-live.js';

/**
 * One meter over time: any quantity it reports, zoomable, with the intervals VEE flagged shaded
 * (red: blocks billing until estimated or edited; amber: explanatory).
 */

const QUANTITIES = {
  electricity: [
    'power_kw',
    'energy_import_kwh',
    'energy_export_kwh',
    'voltage_v',
    'current_a',
    'pf',
    'relay_closed',
  ],
  water: ['flow_m3h', 'volume_m3'],
  heat: ['power_kw', 'heat_kwh', 'flow_m3h', 'supply_c', 'return_c', 'volume_m3'],
};
const UNITS = {
  power_kw: 'kW',
  energy_import_kwh: 'kWh',
  energy_export_kwh: 'kWh',
  voltage_v: 'V',
  current_a: 'A',
  pf: '',
  relay_closed: '',
  flow_m3h: 'm³/h',
  volume_m3: 'm³',
  heat_kwh: 'kWh',
  supply_c: '°C',
  return_c: '°C',
};
/** The register VEE validates, per meter kind. */
const REGISTER = { electricity: 'energy_import_kwh', water: 'volume_m3', heat: 'heat_kwh' };
const RANGES = { '6h': 6 * 3_600_000, '24h': 24 * 3_600_000, '7d': 7 * 24 * 3_600_000 };

const intervalsOf = (data) => (Array.isArray(data) ? data : (data?.intervals ?? []));

/** Flagged intervals in a row with the same rules become one span (a day of gaps is one line). */
function spans(flagged) {
  const out = [];
  for (const i of flagged) {
    const key = i.flags.map((f) => `${f.rule}/${f.severity}`).join(',') + `|${i.source}`;
    const last = out[out.length - 1];
    if (last && last.key === key && last.end === i.start) {
      last.end = i.end;
      last.count++;
    } else {
      out.push({ key, start: i.start, end: i.end, count: 1, flags: i.flags, source: i.source });
    }
  }
  return out;
}

/**
 * A flag's reason: VEE writes English prose with its figures; in Chinese the rule's explanation
 * stands in for it (words-meter.js) so no English reaches a Chinese reader.
 */
function flagReason(f) {
  return getLang() === 'en' ? f.reason : t(`vee.why.${f.rule}`);
}

export const meterPage = {
  id: 'meter',
  nav: 'nav.meter',
  allowed: (can) => can('readings.view'),
  async render(main, params, ctx, query) {
    const tree = await getTree(ctx).catch(() => null);
    const id = params[0] ?? '';
    const node = id ? tree?.nodes[id] : undefined;
    const kind = node?.kind && node.kind !== 'group' ? node.kind : 'electricity';
    const quantities = QUANTITIES[kind];
    const chosen = quantities.includes(query.get('q')) ? query.get('q') : quantities[0];
    const range = RANGES[query.get('range')] ? query.get('range') : '24h';

    const meterInput = h('input', { name: 'meter', value: id, list: 'meter-ids', required: true });
    const ids = tree ? Object.keys(tree.nodes).filter((k) => tree.nodes[k].kind !== 'group') : [];
    const quantitySelect = h(
      'select',
      { name: 'quantity' },
      quantities.map((q) => h('option', { value: q, selected: q === chosen }, t(`quantity.${q}`))),
    );
    const rangeSelect = h(
      'select',
      { name: 'range' },
      Object.keys(RANGES).map((r) => h('option', { value: r, selected: r === range }, t(`meter.range.${r}`))),
    );
    main.append(
      h('h1', {}, id ? t('meter.title', { id: node?.name ? `${node.name} (${id})` : id }) : t('nav.meter')),
      h(
        'form',
        {
          class: 'inline-form',
          dataset: { form: 'meter' },
          onsubmit: (e) => {
            e.preventDefault();
            const m = meterInput.value.trim();
            if (m)
              ctx.navigate(
                `#/meter/${encodeURIComponent(m)}?q=${quantitySelect.value}&range=${rangeSelect.value}`,
              );
          },
        },
        field('meter.pick', meterInput),
        h(
          'datalist',
          { id: 'meter-ids' },
          ids.map((k) => h('option', { value: k })),
        ),
        field('meter.quantity', quantitySelect),
        field('meter.range', rangeSelect),
        h('button', { type: 'submit' }, t('meter.show')),
      ),
    );
    if (!id) return;
    if (node?.relay && ctx.can('relay.request')) {
      main.append(
        h(
          'p',
          {},
          h(
            'a',
            { href: `#/relay/${encodeURIComponent(id)}`, dataset: { action: 'relay-link' } },
            t('meter.request.cutoff'),
          ),
        ),
      );
    }

    const to = Date.now();
    const from = to - RANGES[range];
    const chartBox = h('div', { class: 'card chart-card' });
    const veeBox = h('div', { class: 'card' }, h('h2', {}, t('meter.vee')));
    main.append(chartBox, veeBox);
    chartBox.append(note(t('loading')));

    const [series, vee] = await Promise.all([
      get(`/api/readings/series${qs({ meter: id, quantity: chosen, from, to })}`),
      get(`/api/vee/intervals${qs({ meter: id, quantity: REGISTER[kind], from, to, step: '15m' })}`).catch(
        (err) => err,
      ),
    ]);
    clear(chartBox);
    const flagged =
      vee instanceof ApiError || vee instanceof Error ? [] : intervalsOf(vee).filter((i) => i.flags?.length);
    const bands = flagged.map((i) => ({
      from: i.start,
      to: i.end,
      kind: i.flags.some((f) => f.severity === 'fail') ? 'fail' : 'info',
    }));
    if (!series.points?.length) {
      chartBox.append(note(t('meter.nodata')));
    } else {
      chartBox.append(h('p', { class: 'hint' }, t('meter.zoom.hint')));
      const chart = timeChart(chartBox, {
        series: [{ label: t(`quantity.${chosen}`), unit: UNITS[chosen], points: series.points }],
        bands,
        range: [from, to],
      });
      ctx.onCleanup(() => chart.destroy());
    }
    if (vee instanceof Error) {
      veeBox.append(note(t('unavailable', { message: vee.message })));
    } else if (flagged.length === 0) {
      veeBox.append(note(t('meter.vee.none')));
    } else {
      veeBox.append(
        table(
          spans(flagged),
          [
            [
              'col.time',
              (i) => `${fmtTime(i.start)} – ${fmtTime(i.end)}${i.count > 1 ? ` (${i.count} × 15 min)` : ''}`,
            ],
            ['col.type', (i) => i.flags.map((f) => t(`vee.rule.${f.rule}`)).join(', ')],
            ['col.severity', (i) => i.flags.map((f) => t(`vee.severity.${f.severity}`)).join(', ')],
            ['col.reason', (i) => i.flags.map(flagReason).join('; ')],
            ['col.kind', (i) => t(`vee.source.${i.source}`)],
          ],
          (i) => ({ class: i.flags.some((f) => f.severity === 'fail') ? 'vee-fail' : 'vee-info' }),
        ),
      );
    }
  },
};
