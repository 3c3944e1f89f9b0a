/* global document, window */
import { fmtFen, fmtTime, h } from './dom.js';
import { t } from './i18n.js';
import { actorName, word } from './words-render.js';

/**
 * The receipt a clerk hands over after a sale or a refund: what was paid in or out, by which
 * method, under which receipt number, the balance after, who served, when (campus time). While a
 * receipt is on screen, printing the page prints the receipt alone (the print stylesheet below
 * hides the navigation, the forms and the lists), so the browser's own Print does the same as the
 * button.
 */

/** The counter's stylesheet, a file (the app's CSP allows no inline styles), loaded on first use. */
export function ensureStyle() {
  if (document.getElementById('prepaid-style')) return;
  document.head.append(h('link', { id: 'prepaid-style', rel: 'stylesheet', href: '/app/prepaid.css' }));
}

/**
 * A receipt element for a ledger entry (`topup` or `refund`) of `account`, or for a refund request
 * still waiting for a supervisor (`request`). `balanceFen` is the balance after it.
 */
export function receipt({ kind, account, amountFen, method, reference, no, at, by, balanceFen }, onCleanup) {
  ensureStyle();
  document.body.classList.add('print-receipt');
  onCleanup(() => document.body.classList.remove('print-receipt'));
  const row = (key, value, field) => [
    h('dt', {}, t(key)),
    h('dd', field ? { dataset: { field } } : {}, value),
  ];
  return h(
    'section',
    { class: 'card receipt', dataset: { receipt: kind } },
    h('p', { class: 'hint' }, t('app.title')),
    h('h2', {}, t(`receipt.title.${kind}`)),
    h(
      'dl',
      {},
      row('receipt.no', no, 'no'),
      row('receipt.time', fmtTime(at), 'time'),
      row('receipt.account', `${account.id} · ${account.holder}`, 'account'),
      row('prepaid.customer.type', word('ctype', account.customerType)),
      row('prepaid.meters', account.meters.join(', ')),
      row(`receipt.amount.${kind}`, fmtFen(Math.abs(amountFen)), 'amount'),
      row('prepaid.method', word('method', method), 'method'),
      reference ? row('prepaid.reference', reference, 'reference') : null,
      balanceFen === undefined ? null : row('receipt.balance', fmtFen(balanceFen), 'balance'),
      row('receipt.by', actorName(by), 'by'),
    ),
    kind === 'request' ? h('p', {}, t('receipt.request.note')) : null,
    h('p', { class: 'signature' }, t('receipt.signature')),
    h(
      'button',
      {
        type: 'button',
        class: 'primary no-print',
        dataset: { action: 'print-receipt' },
        onclick: () => window.print(),
      },
      t('receipt.print'),
    ),
  );
}
