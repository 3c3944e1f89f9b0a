import { get, post } from './api.js';
import { clear, field, fmtFen, fmtTime, h, localToday, note, parseYuan, table } from './dom.js';
import { t } from './i18n.js';

/**
 * The half-monthly reconciliation: finance enters cash deposits and bank records, the inspection
 * department its list of post-paid payments, the clerk prepares the report and explains each
 * difference, then the clerk, the assistant and the supervisor sign in that order. Only the newest
 * version is signed; a signed one is shown as it was signed.
 */

const METHODS = ['cash', 'card', 'transfer'];
const STEP_PERMISSION = {
  clerk: 'reconciliation.sign-clerk',
  assistant: 'reconciliation.sign-assistant',
  supervisor: 'reconciliation.sign-supervisor',
};

/** The half month that ended last, from the campus calendar date (YYYY-MM-DD). */
function lastHalf(today) {
  const [y, m, d] = today.split('-').map(Number);
  if (d >= 16) return `${y}-${String(m).padStart(2, '0')}-H1`;
  const py = m === 1 ? y - 1 : y;
  const pm = m === 1 ? 12 : m - 1;
  return `${py}-${String(pm).padStart(2, '0')}-H2`;
}

async function attempt(box, fn) {
  clear(box);
  try {
    await fn();
    return true;
  } catch (err) {
    box.append(note(t('error', { message: err.message }), 'error'));
    return false;
  }
}

function reportView(r, ctx, reload) {
  const f = r.figures;
  const msg = h('div', { 'aria-live': 'polite' });
  const rows = METHODS.map((m) => ({
    m,
    sales: f.takings.prepaidSales[m].fen,
    postpaid: f.takings.postpaid[m].fen,
    reversals: f.takings.reversals[m].fen,
    refunds: f.takings.refunds[m].fen,
    net: f.takings.net[m],
    finance: f.finance[m].fen,
  }));
  const open = !r.superseded && r.signatures.length === 0;
  const explainControl = (d) => {
    const ex = r.explanations.find((e) => e.key === d.key);
    if (ex) return `${ex.text} (${ex.explainedBy})`;
    if (!open || !ctx.can('reconciliation.prepare')) return t('recon.unexplained');
    const text = h('input', { name: 'text', maxlength: 2000, 'aria-label': t('recon.explanation') });
    return h(
      'span',
      { class: 'controls' },
      text,
      h(
        'button',
        {
          type: 'button',
          dataset: { action: 'explain' },
          onclick: async () => {
            if (
              await attempt(msg, () =>
                post(`/api/reconciliation/reports/${r.id}/explanations`, {
                  key: d.key,
                  text: text.value.trim(),
                }),
              )
            )
              await reload();
          },
        },
        t('recon.explain'),
      ),
    );
  };
  const box = h(
    'div',
    { class: 'card', dataset: { report: r.id, version: r.version } },
    h('h2', {}, t('recon.version', { half: r.half, version: r.version })),
    h(
      'p',
      {},
      `${t('recon.prepared')} ${r.preparedBy} · ${fmtTime(r.preparedAt)}${r.reason ? ` · ${r.reason}` : ''}${r.superseded ? ` · ${t('recon.superseded')}` : ''}`,
    ),
    table(
      rows,
      [
        ['collection.method', (x) => t(`method.${x.m}`)],
        ['recon.sales', (x) => fmtFen(x.sales)],
        ['recon.postpaid', (x) => fmtFen(x.postpaid)],
        ['recon.reversals', (x) => fmtFen(x.reversals)],
        ['recon.refunds', (x) => fmtFen(x.refunds)],
        ['recon.net', (x) => fmtFen(x.net)],
        ['recon.finance', (x) => fmtFen(x.finance)],
        ['recon.difference', (x) => fmtFen(x.net - x.finance)],
      ],
      (x) => ({ dataset: { method: x.m } }),
    ),
    h(
      'p',
      {},
      `${t('recon.total')} ${fmtFen(f.takings.totalFen)} · ${t('recon.online')} ${fmtFen(f.takings.online.fen)}`,
    ),
    h('h3', {}, t('recon.differences')),
    f.differences.length
      ? table(
          f.differences,
          [
            ['recon.key', (d) => d.key],
            ['recon.system', (d) => fmtFen(d.systemFen)],
            ['recon.other', (d) => fmtFen(d.otherFen)],
            ['recon.difference', (d) => fmtFen(d.differenceFen)],
            ['recon.explanation', explainControl],
          ],
          (d) => ({ dataset: { difference: d.key } }),
        )
      : note(t('recon.no.differences')),
    h('h3', {}, t('recon.signatures')),
    h(
      'ol',
      { dataset: { section: 'signatures' } },
      ['clerk', 'assistant', 'supervisor'].map((step) => {
        const s = r.signatures.find((x) => x.step === step);
        return h(
          'li',
          { dataset: { step } },
          `${t(`recon.step.${step}`)}: ${s ? `${s.signedBy} · ${fmtTime(s.signedAt)}` : '—'}`,
        );
      }),
    ),
  );
  if (!r.superseded && r.nextStep && ctx.can(STEP_PERMISSION[r.nextStep])) {
    box.append(
      h(
        'button',
        {
          type: 'button',
          dataset: { action: 'sign' },
          onclick: async () => {
            if (await attempt(msg, () => post(`/api/reconciliation/reports/${r.id}/sign`))) await reload();
          },
        },
        t('recon.sign', { step: t(`recon.step.${r.nextStep}`) }),
      ),
    );
  }
  box.append(msg);
  return box;
}

function financeForm(half, reload) {
  const method = h(
    'select',
    { name: 'method' },
    METHODS.map((m) => h('option', { value: m }, t(`method.${m}`))),
  );
  const amount = h('input', { name: 'amount', required: true, inputmode: 'decimal' });
  const reversal = h('input', { type: 'checkbox', name: 'reversal' });
  const reference = h('input', { name: 'reference', required: true, maxlength: 64 });
  const msg = h('div', { 'aria-live': 'polite' });
  return h(
    'form',
    {
      class: 'card inline-form',
      dataset: { form: 'finance-record' },
      onsubmit: async (e) => {
        e.preventDefault();
        const fen = parseYuan(amount.value);
        if (fen === null || fen === 0) {
          clear(msg).append(note(t('collection.amount.invalid'), 'error'));
          return;
        }
        if (
          await attempt(msg, () =>
            post('/api/reconciliation/finance-records', {
              half: half(),
              method: method.value,
              amountFen: reversal.checked ? -fen : fen,
              reference: reference.value.trim(),
            }),
          )
        )
          await reload();
      },
    },
    h('h2', {}, t('recon.finance.records')),
    field('collection.method', method),
    field('collection.amount.yuan', amount),
    field('recon.reversal', reversal),
    field('collection.reference', reference),
    h('button', { type: 'submit' }, t('recon.record')),
    msg,
  );
}

function inspectionForm(half, reload) {
  const notice = h('input', { name: 'notice', required: true, maxlength: 64 });
  const amount = h('input', { name: 'amount', required: true, inputmode: 'decimal' });
  const msg = h('div', { 'aria-live': 'polite' });
  return h(
    'form',
    {
      class: 'card inline-form',
      dataset: { form: 'inspection-item' },
      onsubmit: async (e) => {
        e.preventDefault();
        const fen = parseYuan(amount.value);
        if (fen === null) {
          clear(msg).append(note(t('collection.amount.invalid'), 'error'));
          return;
        }
        if (
          await attempt(msg, () =>
            post('/api/reconciliation/inspection-items', {
              half: half(),
              notice: notice.value.trim(),
              amountFen: fen,
            }),
          )
        )
          await reload();
      },
    },
    h('h2', {}, t('recon.inspection.list')),
    field('collection.notice', notice),
    field('collection.amount.yuan', amount),
    h('button', { type: 'submit' }, t('recon.record')),
    msg,
  );
}

export const reconciliationPage = {
  id: 'reconciliation',
  nav: 'nav.reconciliation',
  allowed: (can) => can('reconciliation.view'),
  async render(main, _params, ctx) {
    const halfInput = h('input', {
      name: 'half',
      value: lastHalf(localToday()),
      pattern: '\\d{4}-\\d{2}-H[12]',
      size: 12,
    });
    const half = () => halfInput.value.trim();
    const body = h('div', {});
    const msg = h('div', { 'aria-live': 'polite' });
    const reload = async () => {
      let data;
      if (
        !(await attempt(
          msg,
          async () => (data = await get(`/api/reconciliation/halves/${encodeURIComponent(half())}`)),
        ))
      )
        return;
      clear(body);
      if (ctx.can('reconciliation.finance-records')) body.append(financeForm(half, reload));
      if (ctx.can('reconciliation.inspection-list')) body.append(inspectionForm(half, reload));
      if (ctx.can('reconciliation.prepare')) {
        const reason = h('input', { name: 'reason', maxlength: 2000, 'aria-label': t('recon.reason') });
        const pmsg = h('div', { 'aria-live': 'polite' });
        body.append(
          h(
            'form',
            {
              class: 'card inline-form',
              dataset: { form: 'prepare' },
              onsubmit: async (e) => {
                e.preventDefault();
                const r = reason.value.trim();
                if (
                  await attempt(pmsg, () =>
                    post('/api/reconciliation/reports', { half: half(), ...(r ? { reason: r } : {}) }),
                  )
                )
                  await reload();
              },
            },
            field('recon.reason', reason),
            h('button', { type: 'submit' }, t('recon.prepare')),
            pmsg,
          ),
        );
      }
      body.append(
        h(
          'div',
          { class: 'card', dataset: { section: 'records' } },
          h('h2', {}, t('recon.finance.records')),
          data.finance.length
            ? table(data.finance, [
                ['collection.method', (x) => t(`method.${x.method}`)],
                ['collection.amount', (x) => fmtFen(x.amountFen)],
                ['collection.reference', (x) => x.reference],
                ['recon.entered', (x) => `${x.enteredBy} · ${fmtTime(x.enteredAt)}`],
              ])
            : note(t('recon.none')),
          h('h2', {}, t('recon.inspection.list')),
          data.inspection.length
            ? table(data.inspection, [
                ['collection.notice', (x) => x.notice],
                ['collection.amount', (x) => fmtFen(x.amountFen)],
                ['recon.entered', (x) => `${x.enteredBy} · ${fmtTime(x.enteredAt)}`],
              ])
            : note(t('recon.none')),
        ),
      );
      if (!data.reports.length) body.append(note(t('recon.no.report')));
      for (const r of data.reports) body.append(reportView(r, ctx, reload));
    };
    main.append(
      h('h1', {}, t('recon.title')),
      h('p', { class: 'hint' }, t('recon.hint')),
      h(
        'form',
        {
          class: 'inline-form',
          dataset: { form: 'half' },
          onsubmit: async (e) => {
            e.preventDefault();
            await reload();
          },
        },
        field('recon.half', halfInput),
        h('button', { type: 'submit' }, t('recon.show')),
      ),
      msg,
      body,
    );
    await reload();
  },
};
