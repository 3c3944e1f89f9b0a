import { get, post } from './api.js';
import { clear, field, fmtFen, fmtNum, fmtTime, h, note, parseYuan, table } from './dom.js';
import { filePicker } from './inputs.js';
import { getLang, t } from './i18n.js';
import { actorName, errorText, list as wordList, word } from './words-render.js';
import { tariffsSection } from './page-billing-tariffs.js';

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
              ['col.by', (r) => `${actorName(r.createdBy)} · ${fmtTime(r.createdAt)}`],
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
              message.append(note(errorText(err), 'error'));
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

/**
 * The invoice's charge elements as typed, one a line: "name, amount in yuan[, quantity]". Amounts
 * become integer fen from their digits (parseYuan), never through floating point. Returns the
 * elements, or the number of the first line that is not one.
 */
function parseElements(text) {
  const elements = [];
  const lines = text.split('\n').map((l) => l.trim());
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]) continue;
    const [name, amount, quantity, ...rest] = lines[i].split(/\s*[,，]\s*/);
    const fen = amount === undefined ? null : parseYuan(amount);
    const q = quantity === undefined || quantity === '' ? undefined : Number(quantity);
    if (!name || fen === null || rest.length > 0 || (q !== undefined && !(Number.isFinite(q) && q >= 0))) {
      return { badLine: i + 1 };
    }
    elements.push({ name, amountFen: fen, ...(q !== undefined ? { quantity: q } : {}) });
  }
  return { elements };
}

/**
 * Why an invoice check is flagged, in the reader's language, from the check's figures (the server's
 * `reasons` are English; the figures behind each are in the check): quantity, each element,
 * amount, unexplained loss, days missing on the main meter, internal meters incomplete.
 */
function invoiceReasons(c) {
  if (getLang() === 'en') return c.reasons.join('; ');
  const unit = c.utility === 'water' ? 'm³' : 'kWh';
  const out = [];
  if (c.quantity.flagged) out.push(t('inv.quantity', { pct: fmtNum(c.quantity.differencePercent, 2) }));
  for (const e of c.elements.filter((x) => x.flagged))
    out.push(
      e.expectedFen === null
        ? t('inv.element.unexpected', { name: word('component', e.name), billed: fmtFen(e.billedFen) })
        : t('inv.element', {
            name: word('component', e.name),
            billed: fmtFen(e.billedFen),
            expected: fmtFen(e.expectedFen),
            pct: e.differencePercent === null ? '∞' : fmtNum(e.differencePercent, 2),
          }),
    );
  if (c.amount.flagged)
    out.push(
      t('inv.amount', { expected: fmtFen(c.amount.expectedFen), pct: fmtNum(c.amount.differencePercent, 2) }),
    );
  if (c.loss.flagged)
    out.push(
      t('inv.loss', {
        qty: fmtNum(c.loss.unexplained, 3),
        unit,
        pct: fmtNum(c.loss.unexplainedPercent, 2),
        loss: fmtNum(c.loss.lossPercent, 2),
      }),
    );
  if (c.mainMeter.daysMissing > 0)
    out.push(t('inv.missing', { meter: c.mainMeter.meter, days: c.mainMeter.daysMissing }));
  if (c.internal.incomplete.length)
    out.push(t('inv.incomplete', { meters: c.internal.incomplete.join(', ') }));
  return wordList(out);
}

/** Enter (or import from the utility's JSON) one invoice and check it; the result says why it is flagged. */
function invoiceForm(reload) {
  const message = h('div', { 'aria-live': 'polite' });
  const period = h('input', { name: 'period', required: true, placeholder: '2026-11' });
  const supplyPoint = h('input', { name: 'supplyPoint', required: true, placeholder: 'SP-EAST-10KV' });
  const invoiceNo = h('input', { name: 'invoiceNo', required: true });
  const quantity = h('input', { name: 'quantity', required: true, inputmode: 'decimal' });
  const elements = h('textarea', {
    name: 'elements',
    required: true,
    rows: 4,
    placeholder: 'energy, 123456.78, 183000',
  });
  const total = h('p', { class: 'note', dataset: { total: '' } });
  const showTotal = () => {
    const parsed = parseElements(elements.value);
    clear(total).append(
      parsed.elements
        ? t('billing.invoice.total', { amount: fmtFen(parsed.elements.reduce((a, e) => a + e.amountFen, 0)) })
        : '',
    );
  };
  elements.addEventListener('input', showTotal);
  const picker = filePicker({
    name: 'import',
    accept: '.json,application/json',
    onchange: async () => {
      clear(message);
      try {
        const inv = JSON.parse(await picker.input.files[0].text());
        supplyPoint.value = inv.supplyPoint ?? '';
        invoiceNo.value = inv.invoiceNo ?? '';
        quantity.value = String(inv.quantity ?? '');
        elements.value = (inv.elements ?? [])
          .map((e) =>
            [e.name, fmtFen(e.amountFen).replace('¥', ''), e.quantity]
              .filter((x) => x !== undefined)
              .join(', '),
          )
          .join('\n');
        showTotal();
      } catch (err) {
        message.append(note(errorText(err), 'error'));
      }
    },
  });
  return h(
    'form',
    {
      class: 'inline-form',
      dataset: { form: 'invoice-check', action: 'invoice-check' },
      onsubmit: async (e) => {
        e.preventDefault();
        clear(message);
        const parsed = parseElements(elements.value);
        if (!parsed.elements) {
          message.append(note(t('billing.invoice.bad.line', { line: parsed.badLine }), 'error'));
          return;
        }
        const invoice = {
          supplyPoint: supplyPoint.value.trim(),
          invoiceNo: invoiceNo.value.trim(),
          quantity: Number(quantity.value),
          amountFen: parsed.elements.reduce((a, x) => a + x.amountFen, 0),
          elements: parsed.elements,
        };
        try {
          const c = await post('/api/billing/invoice-checks', { period: period.value.trim(), invoice });
          message.append(
            c.flagged
              ? note(t('billing.invoice.flagged', { no: c.invoiceNo, reasons: invoiceReasons(c) }), 'error')
              : note(t('billing.invoice.agrees', { no: c.invoiceNo, threshold: c.thresholdPercent }), 'ok'),
          );
          await reload();
        } catch (err) {
          message.append(note(errorText(err), 'error'));
        }
      },
    },
    h('h3', {}, t('billing.invoice.enter')),
    field('billing.invoice.import', picker.element),
    field('billing.period', period),
    field('billing.supply.point', supplyPoint),
    field('billing.invoice.no', invoiceNo),
    field('billing.invoice.quantity', quantity),
    field('billing.invoice.elements', elements),
    total,
    h('button', { type: 'submit', class: 'primary' }, t('billing.invoice.check')),
    message,
  );
}

async function invoicesSection(main) {
  const box = h('div', {});
  const load = async () => {
    const checks = await get('/api/billing/invoice-checks');
    clear(box).append(
      checks.length
        ? table(
            checks,
            [
              ['col.seq', (c) => `#${c.id}`],
              ['billing.supply.point', (c) => `${c.supplyPoint} (${word('utility', c.utility)})`],
              ['billing.invoice', (c) => c.invoiceNo],
              ['col.period', (c) => c.period.label],
              ['col.amount', (c) => `${fmtFen(c.amount.billedFen)} / ${fmtFen(c.amount.expectedFen)}`],
              [
                'col.reason',
                (c) =>
                  c.reasons.length
                    ? invoiceReasons(c)
                    : t('billing.invoice.fits', {
                        q: fmtNum(c.quantity.differencePercent, 2),
                        loss: fmtNum(c.loss.unexplainedPercent, 2),
                      }),
              ],
              ['col.flagged', (c) => h('span', { class: c.flagged ? 'warn' : 'ok' }, c.flagged ? '⚠' : '✓')],
              ['col.by', (c) => `${actorName(c.enteredBy)} · ${fmtTime(c.enteredAt)}`],
            ],
            (c) => ({ dataset: { check: c.id }, class: c.flagged ? 'flagged' : '' }),
          )
        : note(t('none')),
    );
  };
  main.append(
    h(
      'section',
      { class: 'card', dataset: { section: 'invoices' } },
      h('h2', {}, t('billing.invoices')),
      invoiceForm(load),
      box,
    ),
  );
  await load();
}

export const billingPage = {
  id: 'billing',
  nav: 'nav.billing',
  allowed: (can) => can('billing.export') || can('invoices.check'),
  async render(main, _params, ctx) {
    main.append(h('h1', {}, t('billing.title')));
    if (ctx.can('billing.export')) await runsSection(main);
    if (ctx.can('invoices.check')) await invoicesSection(main);
    if (ctx.can('billing.export')) await tariffsSection(main, ctx);
  },
};
