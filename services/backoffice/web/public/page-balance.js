import { get, qs } from './api.js';
import { timeChart } from './chart.js';
import { clear, field, fmtNum, fmtTime, h, note, table } from './dom.js';
import { t } from './i18n.js';
import { getTree } from './page-live.js';

/**
 * The energy balance of one node of the metering tree: its own consumption (upstream) against
 * the sum of its children's (downstream), and the loss in % over time. Intervals where a register
 * is missing cannot be balanced and are listed.
 */

const RANGES = { '24h': 24 * 3_600_000, '7d': 7 * 24 * 3_600_000 };
/** The step each range is shown in unless the hash says otherwise. */
const DEFAULT_STEP = { '24h': '1h', '7d': '1d' };
const STEPS = ['15m', '1h', '1d'];

/** Meters with children of their own kind: the nodes a balance can be drawn for. */
export function balanceNodes(tree) {
  if (!tree) return [];
  return Object.values(tree.nodes).filter(
    (n) => n.kind !== 'group' && n.children.some((c) => tree.nodes[c]?.kind === n.kind),
  );
}

export const balancePage = {
  id: 'balance',
  nav: 'nav.balance',
  allowed: (can) => can('readings.view'),
  async render(main, params, ctx, query) {
    const tree = await getTree(ctx).catch(() => null);
    const nodes = balanceNodes(tree);
    const id = params[0] ?? '';
    const range = RANGES[query.get('range')] ? query.get('range') : '24h';
    const step = STEPS.includes(query.get('step')) ? query.get('step') : DEFAULT_STEP[range];
    const node = id ? tree?.nodes[id] : undefined;

    const nodeSelect = h(
      'select',
      { name: 'node', required: true },
      h('option', { value: '' }, t('balance.pick')),
      nodes.map((n) =>
        h(
          'option',
          { value: n.id, selected: n.id === id },
          n.name && n.name !== n.id ? `${n.name} (${n.id})` : n.id,
        ),
      ),
    );
    const rangeSelect = h(
      'select',
      { name: 'range' },
      Object.keys(RANGES).map((r) => h('option', { value: r, selected: r === range }, t(`meter.range.${r}`))),
    );
    const stepSelect = h(
      'select',
      { name: 'step' },
      STEPS.map((s) => h('option', { value: s, selected: s === step }, t(`balance.step.${s}`))),
    );
    // A new range brings its own default step.
    rangeSelect.addEventListener('change', () => {
      stepSelect.value = DEFAULT_STEP[rangeSelect.value];
    });
    main.append(
      h(
        'h1',
        {},
        id ? t('balance.title', { id: node?.name ? `${node.name} (${id})` : id }) : t('nav.balance'),
      ),
      h(
        'form',
        {
          class: 'inline-form',
          dataset: { form: 'balance' },
          onsubmit: (e) => {
            e.preventDefault();
            const n = nodeSelect.value;
            if (n)
              ctx.navigate(
                `#/balance/${encodeURIComponent(n)}?range=${rangeSelect.value}&step=${stepSelect.value}`,
              );
          },
        },
        field('balance.node', nodeSelect),
        field('meter.range', rangeSelect),
        field('balance.step', stepSelect),
        h('button', { type: 'submit' }, t('meter.show')),
      ),
    );
    if (!id) {
      main.append(note(nodes.length ? t('balance.hint') : t('balance.nonodes')));
      return;
    }

    const to = Date.now();
    const from = to - RANGES[range];
    const chartBox = h('div', { class: 'card chart-card', dataset: { section: 'balance-chart' } });
    const lossBox = h('div', { class: 'card chart-card', dataset: { section: 'balance-loss' } });
    const gapsBox = h(
      'div',
      { class: 'card', dataset: { section: 'balance-uncomputable' } },
      h('h2', {}, t('balance.uncomputable')),
    );
    main.append(chartBox, lossBox, gapsBox);
    chartBox.append(note(t('loading')));

    let data;
    try {
      data = await get(`/api/balance${qs({ node: id, from, to, step })}`);
    } catch (err) {
      clear(chartBox).append(note(t('unavailable', { message: err.message }), 'error'));
      lossBox.remove();
      gapsBox.remove();
      return;
    }
    clear(chartBox);
    const intervals = data.intervals ?? [];
    const computable = intervals.filter((i) => i.state !== 'uncomputable');
    const sum = (key) => computable.reduce((a, i) => a + i[key], 0);
    const up = sum('upstream');
    const down = sum('downstream');
    chartBox.append(
      h(
        'p',
        { class: 'hint', dataset: { children: data.children.join(',') } },
        t('balance.children', { children: data.children.join(', ') }),
      ),
      h(
        'p',
        { dataset: { summary: 'balance' } },
        computable.length === 0
          ? t('balance.summary.none', { total: intervals.length })
          : t('balance.summary', {
              up: fmtNum(up),
              down: fmtNum(down),
              loss: fmtNum(up - down),
              pct: up > 0 ? fmtNum(((up - down) / up) * 100, 1) : '–',
              unit: data.unit,
              n: computable.length,
              total: intervals.length,
            }),
      ),
    );
    if (intervals.length === 0) {
      chartBox.append(note(t('meter.nodata')));
      lossBox.remove();
    } else {
      const points = (key) => intervals.map((i) => [i.start, i[key]]);
      const energy = timeChart(chartBox, {
        series: [
          { label: t('balance.upstream'), unit: data.unit, points: points('upstream') },
          { label: t('balance.downstream'), unit: data.unit, points: points('downstream') },
        ],
        range: [from, to],
      });
      lossBox.append(h('h2', {}, t('balance.loss.pct')));
      const loss = timeChart(lossBox, {
        series: [{ label: t('balance.loss.pct'), unit: '%', points: points('lossPct') }],
        bands: intervals
          .filter((i) => i.state === 'negative')
          .map((i) => ({ from: i.start, to: i.end, kind: 'fail' })),
        height: 200,
        range: [from, to],
      });
      ctx.onCleanup(() => {
        energy.destroy();
        loss.destroy();
      });
    }

    const gaps = intervals.filter((i) => i.state === 'uncomputable');
    if (gaps.length === 0) {
      gapsBox.append(note(t('balance.uncomputable.none')));
    } else {
      gapsBox.append(
        table(gaps, [
          ['col.time', (i) => `${fmtTime(i.start)} – ${fmtTime(i.end)}`],
          ['balance.upstream', (i) => (i.upstream === null ? t('balance.missing') : fmtNum(i.upstream))],
          [
            'balance.downstream',
            (i) => (i.downstream === null ? t('balance.missing.child') : fmtNum(i.downstream)),
          ],
        ]),
      );
    }
  },
};
