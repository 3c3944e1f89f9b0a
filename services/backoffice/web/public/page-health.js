/* global setInterval, clearInterval */
import { get } from './api.js';
import { clear, fmtNum, fmtTime, h, note } from './dom.js';
import { t } from './i18n.js';
import { cardTable } from './live-table.js';
import { errorText } from './page-live.js';

/**
 * Health for the power-room operator (GET /api/health/summary): a summary first (gateways, buses,
 * meters by state, polling paused), then what needs attention, failing first and in natural
 * order; the gateways and buses; every meter last, folded. The gateway's "breaker" is called by
 * what it does: polling paused, until when and why. A meter in a planned outage is listed as
 * such, never as failing.
 */

const STATES = ['ok', 'outage', 'stale', 'error', 'nodata'];

function stateText(m) {
  if (m.state === 'outage') return t('health.state.outage', { id: m.outage });
  if (m.state === 'stale') return t('health.state.stale', { time: fmtTime(m.readingTs) });
  return t(`health.state.${m.state}`);
}

/** "Polling paused until 14:05:00 — MODBUS_TIMEOUT", in words. */
function pollingText(m) {
  if (m.polling !== 'paused') return t(`health.polling.${m.polling}`);
  const until = m.pausedUntil ? t('health.polling.until', { time: fmtTime(m.pausedUntil) }) : '';
  return `${t('health.polling.paused')}${until}`;
}

function why(m) {
  if (!m.lastError) return '';
  return h(
    'span',
    { title: `${m.lastError.code}: ${m.lastError.message ?? ''}`, dataset: { code: m.lastError.code } },
    errorText(m.lastError),
  );
}

const meterColumns = [
  [
    'health.meter',
    (m) =>
      h(
        'a',
        { href: `#/meter/${encodeURIComponent(m.meter)}` },
        m.name !== m.meter ? `${m.name} (${m.meter})` : m.meter,
      ),
  ],
  ['health.where', (m) => `${m.gateway} / ${m.device}`],
  ['health.readings', (m) => h('span', { class: `hs-state hs-${m.state}` }, stateText(m))],
  ['health.polling', (m) => h('span', { class: `hs-polling hs-${m.polling}` }, pollingText(m))],
  ['health.why', (m) => why(m)],
  ['health.error.rate', (m) => (m.errorRate === null ? '–' : `${fmtNum(m.errorRate * 100, 0)} %`)],
  ['health.latency', (m) => (m.latencyMs === null ? '–' : `${fmtNum(m.latencyMs, 0)} ms`)],
];

const meterRow = (m) => ({
  dataset: { meter: m.meter, device: m.device, state: m.state, polling: m.polling },
  class: m.failing ? 'status-error' : m.state === 'outage' ? 'status-outage' : '',
});

function tile(key, value, attrs = {}) {
  return h(
    'div',
    { class: 'hs-tile', ...attrs },
    h('span', { class: 'hs-label' }, t(key)),
    h('strong', {}, value),
  );
}

function summary(s) {
  const online = s.gateways.filter((g) => g.state === 'online').length;
  const busesFailing = s.buses.filter((b) => b.failing > 0).length;
  return h(
    'section',
    { class: 'card hs-summary', dataset: { section: 'health-summary' } },
    tile('health.gateways', t('health.gateways.value', { online, down: s.gateways.length - online }), {
      dataset: { tile: 'gateways' },
      class: `hs-tile${online < s.gateways.length ? ' bad' : ''}`,
    }),
    tile('health.buses', t('health.buses.value', { n: s.buses.length, failing: busesFailing }), {
      dataset: { tile: 'buses' },
      class: `hs-tile${busesFailing > 0 ? ' bad' : ''}`,
    }),
    tile('health.paused', String(s.counts.paused), {
      dataset: { tile: 'paused' },
      class: `hs-tile${s.counts.paused > 0 ? ' bad' : ''}`,
    }),
    h(
      'div',
      { class: 'hs-tile hs-states', dataset: { tile: 'meters' } },
      h('span', { class: 'hs-label' }, t('health.meters')),
      h(
        'span',
        { class: 'counts' },
        STATES.map((k) =>
          h(
            'span',
            { class: `count status-${k}`, dataset: { count: k } },
            `${t(`health.count.${k}`)} ${s.counts[k]}`,
          ),
        ),
      ),
    ),
  );
}

export const healthPage = {
  id: 'health',
  nav: 'nav.health',
  allowed: (can) => can('readings.view'),
  async render(main, _params, ctx) {
    const box = h('div', { class: 'hs' });
    main.append(h('h1', { dataset: { section: 'health' } }, t('health.title')), box);
    let showAll = false;
    const load = async () => {
      const s = await get('/api/health/summary');
      const failing = s.meters.filter((m) => m.failing);
      const outage = s.meters.filter((m) => m.state === 'outage');
      const all = h(
        'details',
        {
          open: showAll,
          ontoggle: (e) => {
            showAll = e.target.open;
          },
        },
        h('summary', {}, t('health.all', { n: s.meters.length })),
        cardTable(s.meters, meterColumns, meterRow),
      );
      // The DOM's own append would write a null as the text "null": only sections present.
      const sections = [
        summary(s),
        h(
          'section',
          { class: 'card', dataset: { section: 'health-failing' } },
          h('h2', {}, t('health.failing', { n: failing.length })),
          failing.length ? cardTable(failing, meterColumns, meterRow) : note(t('health.failing.none'), 'ok'),
        ),
        outage.length
          ? h(
              'section',
              { class: 'card', dataset: { section: 'health-outage' } },
              h('h2', {}, t('health.outage', { n: outage.length })),
              note(t('health.outage.hint')),
              cardTable(outage, meterColumns, meterRow),
            )
          : null,
        h(
          'section',
          { class: 'card', dataset: { section: 'health-gateways' } },
          h('h2', {}, t('health.gateways')),
          s.gateways.length
            ? cardTable(
                s.gateways,
                [
                  ['health.gateway', (g) => `${g.site} / ${g.id}`],
                  ['col.status', (g) => h('span', { class: `gw-${g.state}` }, t(`health.${g.state}`))],
                  ['health.failing.meters', (g) => String(g.failingMeters)],
                  ['col.meters', (g) => (g.meters === undefined ? '–' : String(g.meters))],
                  [
                    'health.outbox',
                    (g) =>
                      g.outbox
                        ? `${g.outbox.messages} · ${fmtNum(g.outbox.bytes / 1024, 1)} KiB${g.outbox.dropped ? ` · ${t('health.dropped', { n: g.outbox.dropped })}` : ''}`
                        : '–',
                  ],
                  ['health.reported', (g) => fmtTime(g.ts)],
                ],
                (g) => ({
                  dataset: { gateway: g.id, state: g.state },
                  class: g.state === 'online' ? '' : 'status-error',
                }),
              )
            : note(t('none')),
        ),
        h(
          'section',
          { class: 'card', dataset: { section: 'health-buses' } },
          h('h2', {}, t('health.buses')),
          cardTable(
            s.buses,
            [
              ['health.bus', (b) => `${b.gateway} / ${b.id}`],
              ['col.meters', (b) => String(b.meters)],
              ['health.failing.meters', (b) => String(b.failing)],
              ['health.paused', (b) => String(b.paused)],
              ['health.count.outage', (b) => String(b.outage)],
            ],
            (b) => ({ dataset: { bus: `${b.gateway}/${b.id}` }, class: b.failing > 0 ? 'status-error' : '' }),
          ),
        ),
        h('section', { class: 'card', dataset: { section: 'health-meters' } }, all),
      ];
      clear(box).append(...sections.filter(Boolean));
    };
    await load();
    const timer = setInterval(() => void load().catch(() => {}), 10_000);
    ctx.onCleanup(() => clearInterval(timer));
  },
};
