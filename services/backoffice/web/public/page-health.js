/* global setInterval, clearInterval */
import { get } from './api.js';
import { clear, fmtNum, fmtTime, h, note, table } from './dom.js';
import { t } from './i18n.js';

/** Gateways (online, outbox backlog) and their devices (breaker, error rate, last error). */

export const healthPage = {
  id: 'health',
  nav: 'nav.health',
  allowed: (can) => can('readings.view'),
  async render(main, _params, ctx) {
    const box = h('div', {});
    main.append(h('h1', {}, t('health.title')), box);
    const load = async () => {
      const health = await get('/api/health');
      clear(box).append(
        h(
          'section',
          { class: 'card' },
          h('h2', {}, t('health.gateways')),
          health.gateways.length
            ? table(
                health.gateways,
                [
                  ['health.gateway', (g) => `${g.site}/${g.id}`],
                  ['col.status', (g) => h('span', { class: `gw-${g.state}` }, t(`health.${g.state}`))],
                  ['col.meters', (g) => (g.meters === undefined ? '–' : String(g.meters))],
                  [
                    'health.outbox',
                    (g) =>
                      g.outbox
                        ? `${g.outbox.messages} · ${fmtNum(g.outbox.bytes / 1024, 1)} KiB${g.outbox.dropped ? ` · dropped ${g.outbox.dropped}` : ''}`
                        : '–',
                  ],
                  ['col.time', (g) => fmtTime(g.ts)],
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
          { class: 'card' },
          h('h2', {}, t('health.devices')),
          health.devices.length
            ? table(
                health.devices,
                [
                  ['health.device', (d) => `${d.gateway}/${d.device}`],
                  ['health.breaker', (d) => h('span', { class: `breaker-${d.breaker}` }, d.breaker)],
                  ['health.error.rate', (d) => `${fmtNum(d.errorRate * 100, 1)} %`],
                  ['health.latency', (d) => (d.latencyMs === null ? '–' : `${fmtNum(d.latencyMs, 0)} ms`)],
                  [
                    'health.last.error',
                    (d) => (d.lastError ? `${d.lastError.code}: ${d.lastError.message ?? ''}` : ''),
                  ],
                  ['col.time', (d) => fmtTime(d.ts)],
                ],
                (d) => ({
                  dataset: { device: d.device },
                  class: d.breaker !== 'closed' || d.errorRate > 0 ? 'status-error' : '',
                }),
              )
            : note(t('none')),
        ),
      );
    };
    await load();
    const timer = setInterval(() => void load().catch(() => {}), 10_000);
    ctx.onCleanup(() => clearInterval(timer));
  },
};
