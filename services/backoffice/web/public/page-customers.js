import { get, post } from './api.js';
import { clear, field, fmtFen, fmtTime, h, note, table } from './dom.js';
import { dateInput } from './inputs.js';
import { getLang } from './i18n.js';
import { localSource, pagedList } from './list.js';

/**
 * The business office's side of self-service: issue a customer's sign-in (the one-time code is
 * shown here once, to hand over), see and end an account's sign-ins and the notices sent to it,
 * and work the payments queue — reconcile a day's provider statement, ask the provider about
 * orders whose notice never came, resolve each mismatch with a note. The server checks every
 * permission again. Its strings live here, in both languages.
 */

const S = {
  zh: {
    nav: '自助与支付',
    issue: '发放客户登录',
    account: '账户',
    username: '登录名',
    email: '电子邮箱（可选）',
    language: '语言',
    issueBtn: '发放一次性验证码',
    issued: '请将验证码交给客户（只显示这一次）：',
    expires: '有效期至',
    logins: '账户的客户登录与通知',
    show: '查看',
    active: '已启用',
    disable: '停用',
    notices: '已发送的通知',
    kind: '类型',
    channel: '渠道',
    to: '收件人',
    status: '状态',
    at: '时间',
    queue: '对账差异（待处理）',
    reconcile: '对账',
    provider: '支付渠道',
    date: '日期',
    query: '查询未回调订单',
    queried: '已查询订单：',
    resolve: '处理',
    note: '处理说明',
    none: '没有待处理的差异：对账一天的支付渠道对账单后，差异会出现在这里。',
    loading: '正在加载……',
    searchQueue: '按日期、交易号、订单号或账户搜索',
    tx: '交易号',
    order: '订单',
    statement: '对账单金额',
    ledger: '台账金额',
    done: '已对账：差异 ',
    missing: '台账缺失',
    extra: '台账多出',
    amount: '金额不符',
    'second-payment': '重复支付',
  },
  en: {
    nav: 'Self-service & payments',
    issue: 'Issue a customer sign-in',
    account: 'Account',
    username: 'Sign-in name',
    email: 'E-mail (optional)',
    language: 'Language',
    issueBtn: 'Issue a one-time code',
    issued: 'Hand this code to the customer (shown only once): ',
    expires: 'valid until',
    logins: "An account's sign-ins and notices",
    show: 'Show',
    active: 'active',
    disable: 'Disable',
    notices: 'Notices sent',
    kind: 'Kind',
    channel: 'Channel',
    to: 'To',
    status: 'Status',
    at: 'Time',
    queue: 'Reconciliation mismatches (open)',
    reconcile: 'Reconcile',
    provider: 'Provider',
    date: 'Day',
    query: 'Query orders without a notice',
    queried: 'Orders queried: ',
    resolve: 'Resolve',
    note: 'What was done',
    none: "No open mismatch: reconcile a day's provider statement and any difference appears here.",
    loading: 'Loading…',
    searchQueue: 'Search by date, transaction, order or account',
    tx: 'Transaction',
    order: 'Order',
    statement: 'Statement',
    ledger: 'Ledger',
    done: 'Reconciled: mismatches ',
    missing: 'missing in ledger',
    extra: 'extra in ledger',
    amount: 'amounts differ',
    'second-payment': 'paid twice',
  },
};
const s = (k) => S[getLang()][k] ?? S.en[k] ?? k;

function issueForm() {
  const account = h('input', { name: 'account', required: true, autocomplete: 'off' });
  const username = h('input', { name: 'username', required: true, autocomplete: 'off' });
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'off' });
  const language = h(
    'select',
    { name: 'language' },
    h('option', { value: 'zh' }, '中文'),
    h('option', { value: 'en' }, 'English'),
  );
  const out = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    {
      dataset: { form: 'issue-login' },
      onsubmit: async (ev) => {
        ev.preventDefault();
        clear(out);
        try {
          const r = await post('/api/customer-logins', {
            account: account.value.trim(),
            username: username.value.trim(),
            language: language.value,
            ...(email.value.trim() ? { email: email.value.trim() } : {}),
          });
          out.append(
            note(
              `${s('issued')}${r.code} (${r.username}, ${r.account}; ${s('expires')} ${fmtTime(r.expiresAt)})`,
              'ok',
            ),
          );
          out.lastChild.dataset.code = r.code;
        } catch (e) {
          out.append(note(e.message, 'error'));
        }
      },
    },
    field(s('account'), account),
    field(s('username'), username),
    field(s('email'), email),
    field(s('language'), language),
    h('button', { type: 'submit' }, s('issueBtn')),
  );
  return h(
    'section',
    { class: 'card', dataset: { section: 'issue-login' } },
    h('h2', {}, s('issue')),
    form,
    out,
  );
}

function accountLookup(can) {
  const account = h('input', { name: 'account', required: true, autocomplete: 'off' });
  const box = h('div', {});
  const show = async () => {
    clear(box);
    try {
      const [logins, notices] = await Promise.all([
        get(`/api/customer-logins?account=${encodeURIComponent(account.value.trim())}`),
        get(`/api/notices?account=${encodeURIComponent(account.value.trim())}`),
      ]);
      box.append(
        table(
          logins,
          [
            [s('username'), (l) => l.username],
            [s('email'), (l) => l.email ?? '–'],
            [s('active'), (l) => (l.active ? '✓' : '–')],
            [
              '',
              (l) =>
                can('accounts.open') && l.active
                  ? h(
                      'button',
                      {
                        type: 'button',
                        class: 'danger',
                        onclick: async () => {
                          await post(`/api/customer-logins/${encodeURIComponent(l.username)}/disable`, {});
                          await show();
                        },
                      },
                      s('disable'),
                    )
                  : '',
            ],
          ],
          (l) => ({ dataset: { login: l.username } }),
        ),
        h('h3', {}, s('notices')),
        table(
          notices.flatMap((n) => n.deliveries.map((d) => ({ ...d, at: n.at, kind: n.kind, level: n.level }))),
          [
            [s('at'), (d) => fmtTime(d.at)],
            [s('kind'), (d) => `${d.kind}${d.level ? ` ${d.level}` : ''}`],
            [s('channel'), (d) => d.channel],
            [s('to'), (d) => d.recipient],
            [s('status'), (d) => `${d.status}${d.lastError ? `: ${d.lastError}` : ''}`],
          ],
          (d) => ({ dataset: { notice: d.id, status: d.status } }),
        ),
      );
    } catch (e) {
      box.append(note(e.message, 'error'));
    }
  };
  return h(
    'section',
    { class: 'card', dataset: { section: 'account-logins' } },
    h('h2', {}, s('logins')),
    h(
      'form',
      {
        onsubmit: (ev) => {
          ev.preventDefault();
          show();
        },
      },
      field(s('account'), account),
      h('button', { type: 'submit' }, s('show')),
    ),
    box,
  );
}

function queue(can) {
  const box = h('div', {});
  const msg = h('div', { 'aria-live': 'polite' });
  const provider = h('input', { name: 'provider', value: 'campus-card', required: true });
  const date = dateInput({ name: 'date', required: true });
  let q = '';
  const load = async () => {
    clear(box).append(note(s('loading')));
    const all = await get('/api/payments/mismatches');
    const list = pagedList({
      name: 'mismatches',
      q,
      placeholder: s('searchQueue'),
      empty: s('none'),
      fetchPage: (page) => {
        q = page.q;
        return localSource(all, (m) =>
          [m.date, s(m.kind), m.transactionId, m.orderNo, m.accountId].join(' '),
        )(page);
      },
      columns: [
        [s('date'), (m) => m.date || '–'],
        [s('kind'), (m) => s(m.kind)],
        [s('tx'), (m) => m.transactionId],
        [s('order'), (m) => m.orderNo ?? '–'],
        [s('account'), (m) => m.accountId ?? '–'],
        [s('statement'), (m) => fmtFen(m.statementFen)],
        [s('ledger'), (m) => fmtFen(m.ledgerFen)],
        ['', (m) => (can('payments.record') ? resolveControl(m, load, msg) : '')],
      ],
      rowAttrs: (m) => ({ dataset: { mismatch: m.id, kind: m.kind } }),
    });
    clear(box).append(list.el);
  };
  const actions = can('payments.record')
    ? [
        h(
          'form',
          {
            dataset: { form: 'reconcile' },
            onsubmit: async (ev) => {
              ev.preventDefault();
              clear(msg);
              try {
                const r = await post('/api/payments/reconciliations', {
                  provider: provider.value.trim(),
                  date: date.value,
                });
                msg.append(note(`${s('done')}${r.mismatches.length}`, 'ok'));
                await load();
              } catch (e) {
                msg.append(note(e.message, 'error'));
              }
            },
          },
          field(s('provider'), provider),
          field(s('date'), date),
          h('button', { type: 'submit' }, s('reconcile')),
        ),
        h(
          'button',
          {
            type: 'button',
            dataset: { action: 'query' },
            onclick: async () => {
              clear(msg);
              try {
                const r = await post('/api/payments/query', {});
                msg.append(note(`${s('queried')}${r.length}`, 'ok'));
              } catch (e) {
                msg.append(note(e.message, 'error'));
              }
            },
          },
          s('query'),
        ),
      ]
    : [];
  load().catch((e) => box.append(note(e.message, 'error')));
  return h(
    'section',
    { class: 'card', dataset: { section: 'mismatches' } },
    h('h2', {}, s('queue')),
    ...actions,
    msg,
    box,
  );
}

function resolveControl(m, reload, msg) {
  const why = h('input', { name: 'note', maxlength: 500, placeholder: s('note'), 'aria-label': s('note') });
  return h(
    'span',
    { class: 'controls' },
    why,
    h(
      'button',
      {
        type: 'button',
        dataset: { action: 'resolve' },
        onclick: async () => {
          clear(msg);
          try {
            await post(`/api/payments/mismatches/${m.id}/resolve`, { note: why.value.trim() });
            await reload();
          } catch (e) {
            msg.append(note(e.message, 'error'));
          }
        },
      },
      s('resolve'),
    ),
  );
}

export const customersPage = {
  id: 'customers',
  // Read each time the navigation is drawn, so it follows the language.
  get nav() {
    return s('nav');
  },
  allowed: (can) => can('accounts.view'),
  async render(main, _params, ctx) {
    main.append(
      h('h1', {}, s('nav')),
      ...(ctx.can('accounts.open') ? [issueForm()] : []),
      accountLookup(ctx.can),
      queue(ctx.can),
    );
  },
};
