import { get, post } from './api.js';
import { clear, field, fmtFen, fmtTime, h, note, parseYuan, table } from './dom.js';
import { getLang, t } from './i18n.js';
import { errorText } from './words-render.js';

/**
 * Post-paid collection: billing publishes a bill run's fee table and confirms it after the
 * objection period; the clerk records objections, payments against notices, reminders and asks for
 * penalty waivers; a supervisor decides objections and waivers. Money is typed in yuan and sent in
 * integer fen; every figure shown is the server's fen, formatted exactly.
 */

const BUCKETS = ['0-30', '31-60', '61-90', '>90'];

/** Runs `fn`, showing its error in `box`; resolves to whether it worked. */
async function attempt(box, fn) {
  clear(box);
  try {
    await fn();
    return true;
  } catch (err) {
    box.append(note(errorText(err), 'error'));
    return false;
  }
}

function feeTableView(table_, ctx, reload) {
  const box = h('div', { class: 'card', dataset: { feeTable: table_.id } });
  const msg = h('div', { 'aria-live': 'polite' });
  box.append(
    h('h2', {}, `${t('collection.feetable')} ${table_.period.label}`),
    h(
      'p',
      {},
      `${t(`collection.state.${table_.state}`)} · ${t('collection.objections.until')} ${fmtTime(table_.objectionsUntil)} · ${t('collection.total')} ${fmtFen(table_.totalFen)}`,
    ),
    table(
      table_.accounts,
      [
        ['collection.account', (a) => a.account],
        ['collection.holder', (a) => a.holder],
        ['collection.payroll', (a) => a.payrollCode ?? ''],
        ['collection.billed', (a) => fmtFen(a.billedFen)],
        ['collection.fee', (a) => fmtFen(a.feeFen)],
        ['collection.blocked', (a) => a.blockedMeters.join(', ')],
      ],
      (a) => ({ dataset: { account: a.account } }),
    ),
  );
  if (table_.objections.length) {
    box.append(
      h('h3', {}, t('collection.objections')),
      table(
        table_.objections,
        [
          ['col.seq', (o) => `#${o.id}`],
          ['collection.account', (o) => o.account],
          ['collection.objection.text', (o) => `${o.text} (${o.recordedBy})`],
          [
            'collection.decision',
            (o) =>
              o.decision
                ? `${t(`collection.outcome.${o.decision.outcome}`)}${o.decision.amountFen === null ? '' : ` ${fmtFen(o.decision.amountFen)}`} · ${o.decision.reason} · ${o.decision.decidedBy}`
                : ctx.can('collection.resolve-objection') && table_.state !== 'confirmed'
                  ? decideControl(o, msg, reload)
                  : t('collection.undecided'),
          ],
        ],
        (o) => ({ dataset: { objection: o.id } }),
      ),
    );
  }
  if (table_.state === 'open-for-objections' && ctx.can('collection.objection')) {
    const account = h('input', { name: 'account', required: true, maxlength: 64 });
    const text = h('input', { name: 'text', required: true, maxlength: 2000 });
    box.append(
      h(
        'form',
        {
          class: 'inline-form',
          dataset: { form: 'objection' },
          onsubmit: async (e) => {
            e.preventDefault();
            if (
              await attempt(msg, () =>
                post(`/api/collection/fee-tables/${table_.id}/objections`, {
                  account: account.value.trim(),
                  text: text.value.trim(),
                }),
              )
            )
              await reload();
          },
        },
        field('collection.account', account),
        field('collection.objection.text', text),
        h('button', { type: 'submit' }, t('collection.objection.record')),
      ),
    );
  }
  if (table_.state !== 'confirmed' && ctx.can('collection.publish')) {
    box.append(
      h(
        'button',
        {
          type: 'button',
          dataset: { action: 'confirm' },
          onclick: async () => {
            if (await attempt(msg, () => post(`/api/collection/fee-tables/${table_.id}/confirm`)))
              await reload();
          },
        },
        t('collection.confirm'),
      ),
    );
  }
  if (table_.state === 'confirmed') {
    const lang = getLang();
    box.append(
      h(
        'p',
        { class: 'controls' },
        h(
          'a',
          {
            href: `/api/collection/fee-tables/${table_.id}/notices/print?lang=${lang}`,
            target: '_blank',
            dataset: { link: 'notices' },
          },
          t('collection.print.notices'),
        ),
        ' · ',
        h(
          'a',
          {
            href: `/api/collection/fee-tables/${table_.id}/payroll?format=csv`,
            dataset: { link: 'payroll' },
          },
          t('collection.payroll.csv'),
        ),
      ),
    );
  }
  box.append(msg);
  return box;
}

function decideControl(o, msg, reload) {
  const amount = h('input', {
    name: 'amount',
    inputmode: 'decimal',
    size: 8,
    'aria-label': t('collection.amount.yuan'),
  });
  const reason = h('input', {
    name: 'reason',
    maxlength: 2000,
    'aria-label': t('col.reason'),
    placeholder: t('col.reason'),
  });
  const decide = (outcome) => async () => {
    const body = { outcome, reason: reason.value.trim() };
    if (outcome === 'upheld') {
      const fen = parseYuan(amount.value);
      if (fen === null) {
        clear(msg).append(note(t('collection.amount.invalid'), 'error'));
        return;
      }
      body.amountFen = fen;
    }
    if (await attempt(msg, () => post(`/api/collection/objections/${o.id}/decision`, body))) await reload();
  };
  return h(
    'span',
    { class: 'controls' },
    amount,
    reason,
    h(
      'button',
      { type: 'button', dataset: { action: 'uphold' }, onclick: decide('upheld') },
      t('collection.uphold'),
    ),
    h(
      'button',
      { type: 'button', dataset: { action: 'dismiss' }, onclick: decide('dismissed') },
      t('collection.dismiss'),
    ),
  );
}

function paymentForm(reload) {
  const notice = h('input', { name: 'notice', required: true, maxlength: 64 });
  const account = h('input', { name: 'account', required: true, maxlength: 64 });
  const period = h('input', { name: 'period', required: true, maxlength: 32, placeholder: '2026-11' });
  const method = h(
    'select',
    { name: 'method' },
    ['cash', 'card', 'transfer'].map((m) => h('option', { value: m }, t(`method.${m}`))),
  );
  const amount = h('input', { name: 'amount', required: true, inputmode: 'decimal' });
  const reference = h('input', { name: 'reference', required: true, maxlength: 64 });
  const msg = h('div', { 'aria-live': 'polite', dataset: { result: 'payment' } });
  return h(
    'form',
    {
      class: 'card inline-form',
      dataset: { form: 'collection-payment' },
      onsubmit: async (e) => {
        e.preventDefault();
        const fen = parseYuan(amount.value);
        if (fen === null) {
          clear(msg).append(note(t('collection.amount.invalid'), 'error'));
          return;
        }
        let res;
        const ok = await attempt(msg, async () => {
          res = await post('/api/collection/payments', {
            notice: notice.value.trim(),
            account: account.value.trim(),
            period: period.value.trim(),
            method: method.value,
            amountFen: fen,
            ...(reference.value.trim() ? { reference: reference.value.trim() } : {}),
          });
        });
        if (ok) {
          msg.append(
            note(
              t('collection.paid', {
                fee: fmtFen(res.payment.principalFen),
                penalty: fmtFen(res.payment.penaltyFen),
                credit: fmtFen(res.payment.creditFen),
                owing: fmtFen(res.notice.outstandingFen),
              }),
              'ok',
            ),
            reversalControl(res.payment, reload),
          );
          await reload();
        }
      },
    },
    h('h2', {}, t('collection.payment')),
    field('collection.notice', notice),
    field('collection.account', account),
    field('collection.period', period),
    field('collection.method', method),
    field('collection.amount.yuan', amount),
    field('collection.reference', reference),
    h('button', { type: 'submit' }, t('collection.payment.record')),
    msg,
  );
}

/** Asks for the reversal of a payment just recorded by mistake; a supervisor decides. */
function reversalControl(payment, reload) {
  const reason = h('input', {
    name: 'reversal-reason',
    maxlength: 2000,
    placeholder: t('col.reason'),
    'aria-label': t('col.reason'),
  });
  const msg = h('span', { 'aria-live': 'polite' });
  return h(
    'span',
    { class: 'controls', dataset: { payment: payment.id } },
    reason,
    h(
      'button',
      {
        type: 'button',
        class: 'danger',
        dataset: { action: 'ask-reversal' },
        onclick: async () => {
          if (
            await attempt(msg, () =>
              post(`/api/collection/payments/${payment.id}/reversal`, { reason: reason.value.trim() }),
            )
          ) {
            msg.append(note(t('collection.reversal.asked'), 'ok'));
            await reload();
          }
        },
      },
      t('collection.reversal.ask'),
    ),
    msg,
  );
}

/**
 * Requests waiting for a supervisor (payment reversals, penalty waivers): what, why and who asked,
 * with approve / reject for whoever holds `permission`; the server refuses the requester and anyone
 * linked to them whatever this shows.
 */
function pendingDecisions(o, ctx, reload) {
  const msg = h('div', { 'aria-live': 'polite' });
  const decide = (x, approve) => async () => {
    if (await attempt(msg, () => post(o.decisionUrl(x), { approve }))) await reload();
  };
  const controls = (x) =>
    ctx.can(o.permission)
      ? h(
          'span',
          { class: 'controls' },
          h(
            'button',
            { type: 'button', dataset: { action: 'approve' }, onclick: decide(x, true) },
            t('collection.approve'),
          ),
          h(
            'button',
            { type: 'button', class: 'danger', dataset: { action: 'reject' }, onclick: decide(x, false) },
            t('collection.reject'),
          ),
        )
      : t('collection.waits');
  return h(
    'div',
    { class: 'card', dataset: { section: o.section } },
    h('h2', {}, t(o.title)),
    o.items.length
      ? table(
          o.items,
          [
            ['col.seq', (x) => `#${x.id}`],
            ...o.columns,
            ['col.reason', (x) => x.reason],
            ['collection.requested.by', (x) => `${x.requestedBy} · ${fmtTime(x.requestedAt)}`],
            ['', controls],
          ],
          o.row,
        )
      : note(t(o.empty)),
    msg,
  );
}

const reversalsView = (reversals, ctx, reload) =>
  pendingDecisions(
    {
      section: 'reversals',
      title: 'collection.reversals',
      empty: 'collection.no.reversals',
      items: reversals,
      permission: 'payment-reversal.approve',
      decisionUrl: (r) => `/api/collection/reversals/${r.id}/decision`,
      columns: [
        ['collection.notice', (r) => r.notice],
        [
          'collection.amount',
          (r) =>
            `${fmtFen(r.payment.amountFen)} · ${t(`method.${r.payment.method}`)} · ${r.payment.reference ?? ''}`,
        ],
      ],
      row: (r) => ({ dataset: { reversal: r.id } }),
    },
    ctx,
    reload,
  );

function arrearsView(report, ctx, reload) {
  const msg = h('div', { 'aria-live': 'polite' });
  const actions = (n) => {
    const out = [];
    if (ctx.can('collection.remind'))
      out.push(
        h(
          'button',
          {
            type: 'button',
            dataset: { action: 'remind' },
            onclick: async () => {
              if (
                await attempt(msg, () =>
                  post('/api/collection/reminders', { notice: n.number, channel: 'door' }),
                )
              )
                await reload();
            },
          },
          t('collection.remind'),
        ),
      );
    if (ctx.can('penalty-waiver.request') && n.penaltyDueFen > 0) {
      const reason = h('input', {
        name: 'reason',
        maxlength: 2000,
        placeholder: t('col.reason'),
        'aria-label': t('col.reason'),
      });
      out.push(
        reason,
        h(
          'button',
          {
            type: 'button',
            dataset: { action: 'waive' },
            onclick: async () => {
              if (
                await attempt(msg, () =>
                  post('/api/collection/waivers', {
                    notice: n.number,
                    amountFen: n.penaltyDueFen,
                    reason: reason.value.trim(),
                  }),
                )
              )
                await reload();
            },
          },
          t('collection.waive'),
        ),
      );
    }
    return h('span', { class: 'controls' }, out);
  };
  return h(
    'div',
    { class: 'card', dataset: { section: 'arrears' } },
    h('h2', {}, t('collection.arrears')),
    table(
      BUCKETS.map((b) => ({ b, ...report.buckets[b] })),
      [
        ['collection.bucket', (x) => t('collection.days', { range: x.b })],
        ['collection.count', (x) => String(x.count)],
        ['collection.owing', (x) => fmtFen(x.fen)],
      ],
      (x) => ({ dataset: { bucket: x.b } }),
    ),
    report.notices.length
      ? table(
          report.notices,
          [
            ['collection.notice', (n) => n.number],
            ['collection.account', (n) => `${n.account} · ${n.holder}`],
            ['collection.due', (n) => n.dueDate],
            ['collection.overdue', (n) => String(n.daysOverdue)],
            ['collection.fee.due', (n) => fmtFen(n.principalDueFen)],
            ['collection.penalty', (n) => fmtFen(n.penaltyDueFen)],
            ['collection.reminders', (n) => String(n.reminders.length)],
            ['', actions],
          ],
          (n) => ({ dataset: { notice: n.number } }),
        )
      : note(t('collection.no.arrears')),
    msg,
  );
}

const waiversView = (waivers, ctx, reload) =>
  pendingDecisions(
    {
      section: 'waivers',
      title: 'collection.waivers',
      empty: 'collection.no.waivers',
      items: waivers,
      permission: 'penalty-waiver.approve',
      decisionUrl: (w) => `/api/collection/waivers/${w.id}/decision`,
      columns: [['collection.amount', (w) => fmtFen(w.amountFen)]],
      row: (w) => ({ dataset: { waiver: w.id } }),
    },
    ctx,
    reload,
  );

export const collectionPage = {
  id: 'collection',
  nav: 'nav.collection',
  allowed: (can) => can('collection.view'),
  async render(main, _params, ctx) {
    // The forms stay put across reloads, so what a payment recorded stays on screen.
    const body = h('div', {});
    const reload = async () => {
      const [tables, arrears, waivers, reversals] = await Promise.all([
        get('/api/collection/fee-tables'),
        get('/api/collection/arrears'),
        get('/api/collection/waivers'),
        get('/api/collection/reversals'),
      ]);
      const details = await Promise.all(
        tables.slice(0, 6).map((x) => get(`/api/collection/fee-tables/${x.id}`)),
      );
      clear(body).append(
        arrearsView(arrears, ctx, reload),
        waiversView(waivers, ctx, reload),
        reversalsView(reversals, ctx, reload),
      );
      for (const d of details) body.append(feeTableView(d, ctx, reload));
      if (!details.length) body.append(note(t('collection.no.tables')));
    };
    main.append(
      h('h1', {}, t('collection.title')),
      h('p', { class: 'hint' }, t('collection.hint')),
      // DOM append writes null as the text "null": leave the forms a role may not use out.
      ...[
        ctx.can('collection.publish') ? publishForm(reload) : null,
        ctx.can('payments.record') ? paymentForm(reload) : null,
      ].filter(Boolean),
      body,
    );
    await reload();
  },
};

function publishForm(reload) {
  const run = h('input', { name: 'run', required: true, maxlength: 80, placeholder: 'br-…' });
  const msg = h('div', { 'aria-live': 'polite' });
  return h(
    'form',
    {
      class: 'card inline-form',
      dataset: { form: 'publish-fee-table' },
      onsubmit: async (e) => {
        e.preventDefault();
        if (await attempt(msg, () => post('/api/collection/fee-tables', { run: run.value.trim() })))
          await reload();
      },
    },
    h('h2', {}, t('collection.publish')),
    field('collection.run', run),
    h('button', { type: 'submit' }, t('collection.publish.button')),
    msg,
  );
}
