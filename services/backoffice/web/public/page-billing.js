import { get, post } from './api.js';
import { clear, field, fmtFen, fmtNum, fmtTime, h, note, table } from './dom.js';
import { t } from './i18n.js';

/**
 * Post-paid billing: bill runs (run a period, download its lines, payroll deductions and payment
 * notices) and the utility invoice checks (the utility's bill against the campus's own meters).
 */

const EXPORTS = [
  ['all', 'billing.export.all'],
  ['payroll', 'billing.export.payroll'],
  ['notices', 'billing.export.notices'],
];

async function runsSection(main) {
  const box = h('div', {});
  const message = h('div', { 'aria-live': 'polite' });
  const period = h('input', { name: 'period', required: true, placeholder: '2026-11' });
  const load = async () => {
    const runs = await get('/api/billing/runs');
    clear(box).append(
      runs.length
        ? table(
            runs,
            [
              ['col.seq', (r) => r.id],
              ['col.period', (r) => r.period.label],
              ['col.meters', (r) => String(r.meters)],
              ['col.blocked', (r) => h('span', { class: r.blocked ? 'warn' : '' }, String(r.blocked))],
              ['col.total', (r) => fmtFen(r.totalFen)],
              ['col.by', (r) => `${r.createdBy} · ${fmtTime(r.createdAt)}`],
              [
                'billing.export',
                (r) =>
                  EXPORTS.map(([list, key]) =>
                    h(
                      'a',
                      {
                        class: 'export',
                        href: `/api/billing/runs/${encodeURIComponent(r.id)}/export?format=csv&list=${list}`,
                        download: `${r.id}-${list}.csv`,
                      },
                      t(key),
                    ),
                  ),
              ],
            ],
            (r) => ({ dataset: { run: r.id } }),
          )
        : note(t('none')),
    );
  };
  main.append(
    h(
      'section',
      { class: 'card', dataset: { section: 'runs' } },
      h('h2', {}, t('billing.runs')),
      h(
        'form',
        {
          class: 'inline-form',
          dataset: { form: 'bill-run', action: 'bill-run' },
          onsubmit: async (e) => {
            e.preventDefault();
            clear(message);
            try {
              await post('/api/billing/runs', { period: period.value.trim() });
              message.append(note(t('done'), 'ok'));
              await load();
            } catch (err) {
              message.append(note(t('error', { message: err.message }), 'error'));
            }
          },
        },
        field('billing.period', period),
        h('button', { type: 'submit', class: 'primary' }, t('billing.run')),
      ),
      message,
      box,
    ),
  );
  await load();
}

async function invoicesSection(main) {
  const checks = await get('/api/billing/invoice-checks');
  main.append(
    h(
      'section',
      { class: 'card', dataset: { section: 'invoices' } },
      h('h2', {}, t('billing.invoices')),
      checks.length
        ? table(
            checks,
            [
              ['col.seq', (c) => `#${c.id}`],
              ['billing.supply.point', (c) => `${c.supplyPoint} (${c.utility})`],
              ['billing.invoice', (c) => c.invoiceNo],
              ['col.period', (c) => c.period.label],
              ['col.amount', (c) => `${fmtFen(c.amount.billedFen)} / ${fmtFen(c.amount.expectedFen)}`],
              [
                'col.reason',
                (c) =>
                  `Δ ${fmtNum(c.quantity.differencePercent, 2)} % · loss ${fmtNum(c.loss.unexplainedPercent, 2)} %`,
              ],
              ['col.flagged', (c) => h('span', { class: c.flagged ? 'warn' : 'ok' }, c.flagged ? '⚠' : '✓')],
              ['col.by', (c) => `${c.enteredBy} · ${fmtTime(c.enteredAt)}`],
            ],
            (c) => ({ dataset: { check: c.id }, class: c.flagged ? 'flagged' : '' }),
          )
        : note(t('none')),
    ),
  );
}

export const billingPage = {
  id: 'billing',
  nav: 'nav.billing',
  allowed: (can) => can('billing.export') || can('invoices.check'),
  async render(main, _params, ctx) {
    main.append(h('h1', {}, t('billing.title')));
    if (ctx.can('billing.export')) await runsSection(main);
    if (ctx.can('invoices.check')) await invoicesSection(main);
  },
};
