/* global URLSearchParams */
import { get, post, qs } from './api.js';
import { clear, field, fmtFen, fmtNum, fmtTime, h, note, parseYuan, table } from './dom.js';
import { t } from './i18n.js';
import { ensureStyle, receipt } from './prepaid-receipt.js';
import { actorName, errorText, word } from './words-render.js';

/**
 * The business-office counter (where a clerk lands): one search box finds an account by any part
 * of its number, the room, the holder's name or a meter (the server searches, a page of 50 at a
 * time); the low-balance and out-of-credit lists; an account's balance and ledger; a sale, a
 * refund request and free quota, each form saying next to the field what to type; after a sale or
 * a refund, a receipt to print. Amounts are typed in yuan and sent as integer fen.
 */

const METHODS = ['cash', 'card', 'transfer'];
const PAGE = 50;
/** The most one ledger entry may carry (services/money/prepaid/types.ts MAX_ENTRY_FEN): 1,000,000 yuan. */
const MAX_FEN = 100_000_000;
const LISTS = ['', 'low', 'out'];

/** What is wrong with an amount typed in yuan, in words that say what to type; null when it is fine. */
export function amountProblem(text, maxFen = MAX_FEN) {
  const s = String(text).trim();
  if (!s) return t('prepaid.err.amount.empty');
  if (/^\d+,\d{1,2}$/.test(s)) return t('prepaid.err.amount.comma', { typed: s, fixed: s.replace(',', '.') });
  if (/^\d+\.\d{3,}$/.test(s)) return t('prepaid.err.amount.decimals');
  const fen = parseYuan(s);
  if (fen === null) return t('prepaid.err.amount.format');
  if (fen === 0) return t('prepaid.err.amount.zero');
  if (fen > maxFen) return t('prepaid.err.amount.max', { max: fmtFen(maxFen) });
  return null;
}

/** A labelled input with its own error line right after it (aria-describedby ties them). */
function checkedField(labelKey, input) {
  const error = h('span', { class: 'field-error', id: `err-${input.name}`, 'aria-live': 'polite' });
  input.setAttribute('aria-describedby', error.id);
  input.addEventListener('input', () => showError(input, null));
  return { el: h('label', { class: 'field' }, h('span', {}, t(labelKey)), input, error), error };
}

function showError(input, message) {
  const error = input.parentElement?.querySelector('.field-error');
  if (error) clear(error).append(message ?? '');
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

const methodSelect = () =>
  h(
    'select',
    { name: 'method' },
    METHODS.map((m) => h('option', { value: m }, t(`method.${m}`))),
  );

function currentMonth() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}`;
}

/** A form whose submit checks its fields first and puts the server's refusal next to the field it concerns. */
function actionForm(action, fields, submit, message, byCode = {}) {
  return h(
    'form',
    {
      class: 'action-form',
      dataset: { action },
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        clear(message);
        try {
          await submit();
        } catch (err) {
          const input = byCode[err.code];
          if (input) showError(input, errorText(err));
          else message.append(note(errorText(err), 'error'));
        }
      },
    },
    h('h3', {}, t(`prepaid.${action}`)),
    fields,
    h('button', { type: 'submit', class: 'primary' }, t('prepaid.submit')),
  );
}

function levelBadge(level) {
  return h('span', { class: `level level-${level}`, dataset: { level } }, t(`prepaid.level.${level}`));
}

async function accountView(main, id, ctx) {
  const box = h('div', {});
  const receiptHost = h('div', { dataset: { section: 'receipt' } });
  const message = h('div', { 'aria-live': 'polite' });
  main.append(receiptHost, box);
  let account;
  /** The balance after each ledger entry, summed oldest first in integer fen (for receipts). */
  let after = new Map();
  const showReceipt = (r) => {
    clear(receiptHost).append(
      receipt({ account, ...r, balanceFen: r.balanceFen ?? after.get(r.entryId) }, ctx.onCleanup),
    );
    receiptHost.scrollIntoView?.({ block: 'nearest' });
  };
  const load = async () => {
    const [a, ledger] = await Promise.all([
      get(`/api/accounts/${encodeURIComponent(id)}`),
      get(`/api/accounts/${encodeURIComponent(id)}/ledger`),
    ]);
    account = a;
    let running = 0;
    after = new Map(ledger.map((e) => [e.id, (running += e.amountFen)]));
    const verified = account.tariffType === 'verified';
    clear(box).append(
      h('h2', {}, `${account.id} · ${account.holder}`),
      h(
        'dl',
        { class: 'facts', dataset: { account: account.id } },
        h('dt', {}, t('prepaid.customer.type')),
        h('dd', {}, word('ctype', account.customerType)),
        h('dt', {}, t('prepaid.tariff.type')),
        h(
          'dd',
          { class: verified ? 'ok' : 'warn' },
          verified ? t('prepaid.tariff.verified') : t('prepaid.tariff.unverified'),
        ),
        h('dt', {}, t('prepaid.balance')),
        h(
          'dd',
          { class: account.balanceFen <= 0 ? 'warn' : '', dataset: { field: 'balance' } },
          fmtFen(account.balanceFen),
        ),
        h('dt', {}, t('prepaid.refundable')),
        h('dd', { dataset: { field: 'refundable' } }, fmtFen(account.refundableFen)),
        h('dt', {}, t('prepaid.meters')),
        h(
          'dd',
          {},
          account.meters.map((m) =>
            h(
              'span',
              { class: 'meter-ref' },
              h('a', { href: `#/meter/${encodeURIComponent(m)}` }, m),
              ctx.can('relay.request')
                ? [
                    ' ',
                    h(
                      'a',
                      { href: `#/relay/${encodeURIComponent(m)}`, dataset: { action: 'relay-link' } },
                      t('nav.relay'),
                    ),
                  ]
                : null,
            ),
          ),
        ),
      ),
      message,
    );
    const forms = [];
    if (!verified && ctx.can('accounts.verify-tariff') && account.openedBy !== ctx.actor.id) {
      forms.push(
        actionForm(
          'verify-tariff',
          [],
          async () => {
            await post(`/api/accounts/${encodeURIComponent(id)}/verify-tariff`);
            await load();
          },
          message,
        ),
      );
    }
    if (ctx.can('payments.record')) forms.push(saleForm(id, message, load, showReceipt));
    if (ctx.can('refunds.request')) forms.push(refundForm(id, () => account, message, load, showReceipt));
    if (ctx.can('free-quota.credit')) forms.push(freeQuotaForm(id, message, load));
    if (forms.length) box.append(h('section', { class: 'card actions' }, forms));
    box.append(ledgerSection(ledger, showReceipt));
  };
  await load();
}

function saleForm(id, message, load, showReceipt) {
  const amount = h('input', { name: 'amount', inputmode: 'decimal', autocomplete: 'off' });
  const method = methodSelect();
  const reference = h('input', { name: 'reference', autocomplete: 'off', maxlength: 64 });
  const a = checkedField('prepaid.amount.yuan', amount);
  const r = checkedField('prepaid.reference', reference);
  return actionForm(
    'topup',
    [a.el, field('prepaid.method', method), r.el],
    async () => {
      const problem = amountProblem(amount.value);
      showError(amount, problem);
      showError(reference, reference.value.trim() ? null : t('prepaid.err.reference'));
      if (problem || !reference.value.trim()) return;
      const entry = await post('/api/topups', {
        account: id,
        amountFen: parseYuan(amount.value),
        method: method.value,
        reference: reference.value.trim(),
      });
      amount.value = '';
      reference.value = '';
      await load();
      showReceipt({ kind: 'topup', ...fromEntry(entry) });
    },
    message,
    { INVALID_AMOUNT: amount, DUPLICATE_REFERENCE: reference },
  );
}

function refundForm(id, accountNow, message, load, showReceipt) {
  const amount = h('input', { name: 'amount', inputmode: 'decimal', autocomplete: 'off' });
  const method = methodSelect();
  const reason = h('input', { name: 'reason', maxlength: 500 });
  const a = checkedField('prepaid.amount.yuan', amount);
  const r = checkedField('prepaid.reason', reason);
  return actionForm(
    'refund',
    [a.el, field('prepaid.method', method), r.el],
    async () => {
      const refundable = accountNow().refundableFen;
      let problem = amountProblem(amount.value);
      if (!problem && parseYuan(amount.value) > refundable)
        problem = t('prepaid.err.amount.refundable', { max: fmtFen(refundable) });
      showError(amount, problem);
      showError(reason, reason.value.trim() ? null : t('prepaid.err.reason'));
      if (problem || !reason.value.trim()) return;
      const fen = parseYuan(amount.value);
      const request = await post('/api/refunds', {
        account: id,
        amountFen: fen,
        method: method.value,
        reason: reason.value.trim(),
      });
      amount.value = '';
      reason.value = '';
      await load();
      showReceipt({
        kind: 'request',
        no: `#${request.id}`,
        at: request.requestedAt,
        by: request.requestedBy,
        amountFen: fen,
        method: method.value,
      });
    },
    message,
    { INVALID_AMOUNT: amount, INSUFFICIENT_BALANCE: amount },
  );
}

function freeQuotaForm(id, message, load) {
  const period = h('input', { name: 'period', value: currentMonth() });
  const kwh = h('input', { name: 'kwh', inputmode: 'decimal' });
  const p = checkedField('prepaid.period', period);
  const k = checkedField('prepaid.kwh', kwh);
  return actionForm(
    'free-quota',
    [p.el, k.el],
    async () => {
      const badPeriod = /^\d{4}-(0[1-9]|1[0-2])$/.test(period.value.trim()) ? null : t('prepaid.err.period');
      const n = Number(kwh.value.trim());
      const badKwh = /^\d{1,5}(\.\d{1,3})?$/.test(kwh.value.trim()) && n > 0 ? null : t('prepaid.err.kwh');
      showError(period, badPeriod);
      showError(kwh, badKwh);
      if (badPeriod || badKwh) return;
      await post('/api/free-quota', { account: id, period: period.value.trim(), kwh: n });
      await load();
      message.append(note(t('done'), 'ok'));
    },
    message,
  );
}

/** The receipt's figures from a ledger entry. */
function fromEntry(e) {
  return {
    entryId: e.id,
    no: `#${e.id}`,
    at: e.at,
    by: e.recordedBy,
    amountFen: e.amountFen,
    method: e.method,
    reference: e.reference,
  };
}

function ledgerSection(ledger, showReceipt) {
  return h(
    'section',
    { class: 'card', dataset: { section: 'ledger' } },
    h('h2', {}, t('prepaid.ledger')),
    ledger.length
      ? table(
          [...ledger].reverse(),
          [
            ['col.time', (e) => fmtTime(e.at)],
            ['col.kind', (e) => word('entry', e.type)],
            ['col.amount', (e) => h('span', { class: e.amountFen < 0 ? 'neg' : 'pos' }, fmtFen(e.amountFen))],
            ['col.by', (e) => [actorName(e.recordedBy), e.approvedBy ? ` / ${actorName(e.approvedBy)}` : '']],
            [
              'col.reason',
              (e) =>
                e.reason ??
                e.reference ??
                (e.quantityMilli ? `${fmtNum(e.quantityMilli / 1000, 3)} kWh` : ''),
            ],
            [
              '',
              (e) =>
                (e.type === 'topup' || e.type === 'refund') && e.method
                  ? h(
                      'button',
                      {
                        type: 'button',
                        dataset: { action: 'receipt' },
                        onclick: () => showReceipt({ kind: e.type, ...fromEntry(e) }),
                      },
                      t('receipt.show'),
                    )
                  : '',
            ],
          ],
          (e) => ({ dataset: { entry: e.id, type: e.type } }),
        )
      : note(t('none')),
  );
}

function listSection(query, ctx) {
  const list = LISTS.includes(query.get('list') ?? '') ? (query.get('list') ?? '') : '';
  const q = query.get('q') ?? '';
  const offset = Number(query.get('offset') ?? 0) || 0;
  const box = h('section', {
    class: 'card',
    // What the section shows, for tests and for styling; its heading appears once it is loaded.
    dataset: { section: 'accounts', list: list || 'search', q, offset: String(offset) },
  });
  const go = (changes) => {
    const next = new URLSearchParams(query);
    for (const [k, v] of Object.entries(changes))
      if (v === '' || v === 0) next.delete(k);
      else next.set(k, String(v));
    const s = next.toString();
    ctx.navigate(`#/prepaid${s ? `?${s}` : ''}`);
  };
  const load = async () => {
    const page = await get(
      `/api/accounts${qs({ q: q || undefined, list: list || undefined, offset, limit: PAGE })}`,
    );
    const end = page.offset + page.accounts.length;
    const pager = () =>
      h(
        'p',
        { class: 'pager' },
        h(
          'button',
          {
            type: 'button',
            dataset: { action: 'previous' },
            disabled: page.offset === 0,
            onclick: () => go({ offset: Math.max(0, page.offset - PAGE) }),
          },
          t('prepaid.previous'),
        ),
        ' ',
        h(
          'span',
          { dataset: { total: page.total } },
          t('prepaid.page', { from: page.offset + 1, to: end, total: page.total }),
        ),
        ' ',
        h(
          'button',
          {
            type: 'button',
            dataset: { action: 'next' },
            disabled: end >= page.total,
            onclick: () => go({ offset: end }),
          },
          t('prepaid.next'),
        ),
      );
    // h() flattens arrays (DOM append would write them as text): the list goes in as one block.
    box.append(
      h('h2', {}, t(`prepaid.list.${list || 'search'}`)),
      h(
        'div',
        { class: 'accounts-list' },
        page.accounts.length
          ? [
              pager(),
              table(
                page.accounts,
                [
                  ['col.account', (a) => h('a', { href: `#/prepaid/${encodeURIComponent(a.id)}` }, a.id)],
                  ['prepaid.holder', (a) => a.holder],
                  ['prepaid.customer.type', (a) => word('ctype', a.customerType)],
                  ['prepaid.meters', (a) => a.meters.join(', ')],
                  [
                    'prepaid.balance',
                    (a) => h('span', { class: a.balanceFen <= 0 ? 'neg' : '' }, fmtFen(a.balanceFen)),
                  ],
                  ['col.state', (a) => levelBadge(a.level)],
                ],
                (a) => ({ dataset: { account: a.id, level: a.level } }),
              ),
            ]
          : note(t(q ? 'prepaid.none.found' : 'none')),
      ),
    );
  };
  return { box, load };
}

export const prepaidPage = {
  id: 'prepaid',
  nav: 'nav.prepaid',
  allowed: (can) => can('accounts.view'),
  // The counter is a clerk's work: a clerk lands here after logging in.
  landing: (can) => can('payments.record'),
  async render(main, params, ctx, query) {
    ensureStyle();
    const input = h('input', {
      name: 'q',
      type: 'search',
      value: query.get('q') ?? '',
      maxlength: 64,
      placeholder: t('prepaid.search.placeholder'),
      'aria-label': t('prepaid.search'),
    });
    const list = query.get('list') ?? '';
    main.append(
      h('h1', {}, t('prepaid.title')),
      h(
        'form',
        {
          class: 'inline-form',
          role: 'search',
          dataset: { form: 'account-search' },
          onsubmit: (e) => {
            e.preventDefault();
            const q = input.value.trim();
            ctx.navigate(`#/prepaid${q ? `?q=${encodeURIComponent(q)}` : ''}`);
          },
        },
        field('prepaid.search', input),
        h('button', { type: 'submit', class: 'primary' }, t('prepaid.find')),
      ),
      h(
        'p',
        { class: 'tabs' },
        LISTS.map((l) =>
          h(
            'a',
            {
              href: `#/prepaid${l ? `?list=${l}` : ''}`,
              class: !params[0] && list === l ? 'active' : '',
              dataset: { list: l || 'all' },
            },
            t(`prepaid.list.${l || 'all'}`),
          ),
        ),
      ),
    );
    if (params[0]) {
      await accountView(main, params[0], ctx);
      return;
    }
    const section = listSection(query, ctx);
    main.append(section.box);
    await section.load();
  },
};
