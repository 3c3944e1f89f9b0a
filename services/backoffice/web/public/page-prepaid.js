import { get, post } from './api.js';
import { clear, field, fmtFen, fmtNum, fmtTime, h, note, parseYuan, table } from './dom.js';
import { t } from './i18n.js';
import { actorName, word } from './words-render.js';

/**
 * Prepaid accounts at the business office: find an account, see its balance and ledger, sell
 * (top-up), ask for a refund, credit free quota, verify the tariff type (supervisor), and ask for
 * a cut-off or restore of its meters. Amounts are typed in yuan and sent as integer fen.
 */

const METHODS = ['cash', 'card', 'transfer'];

function actionForm(action, fields, submit, message) {
  return h(
    'form',
    {
      class: 'action-form',
      dataset: { action },
      onsubmit: async (e) => {
        e.preventDefault();
        clear(message);
        try {
          await submit();
        } catch (err) {
          message.append(note(t('error', { message: err.message }), 'error'));
        }
      },
    },
    h('h3', {}, t(`prepaid.${action}`)),
    fields,
    h('button', { type: 'submit', class: 'primary' }, t('prepaid.submit')),
  );
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

async function accountView(main, id, ctx) {
  const box = h('div', {});
  const message = h('div', { 'aria-live': 'polite' });
  main.append(box);
  const load = async () => {
    const [account, ledger] = await Promise.all([
      get(`/api/accounts/${encodeURIComponent(id)}`),
      get(`/api/accounts/${encodeURIComponent(id)}/ledger`),
    ]);
    const verified = account.tariffType === 'verified';
    clear(box).append(
      h('h1', {}, `${account.id} · ${account.holder}`),
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
          { class: account.balanceFen < 0 ? 'warn' : '', dataset: { field: 'balance' } },
          fmtFen(account.balanceFen),
        ),
        h('dt', {}, t('prepaid.refundable')),
        h('dd', {}, fmtFen(account.refundableFen)),
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
    if (ctx.can('payments.record')) {
      const amount = h('input', { name: 'amount', inputmode: 'decimal', required: true });
      const method = methodSelect();
      const reference = h('input', { name: 'reference', required: true });
      forms.push(
        actionForm(
          'topup',
          [
            field('prepaid.amount.yuan', amount),
            field('prepaid.method', method),
            field('prepaid.reference', reference),
          ],
          async () => {
            const fen = parseYuan(amount.value);
            if (!fen) throw new Error(t('prepaid.amount.yuan'));
            await post('/api/topups', {
              account: id,
              amountFen: fen,
              method: method.value,
              reference: reference.value.trim(),
            });
            await load();
            message.append(note(t('done'), 'ok'));
          },
          message,
        ),
      );
    }
    if (ctx.can('refunds.request')) {
      const amount = h('input', { name: 'amount', inputmode: 'decimal', required: true });
      const method = methodSelect();
      const reason = h('input', { name: 'reason', required: true });
      forms.push(
        actionForm(
          'refund',
          [
            field('prepaid.amount.yuan', amount),
            field('prepaid.method', method),
            field('prepaid.reason', reason),
          ],
          async () => {
            const fen = parseYuan(amount.value);
            if (!fen) throw new Error(t('prepaid.amount.yuan'));
            await post('/api/refunds', {
              account: id,
              amountFen: fen,
              method: method.value,
              reason: reason.value.trim(),
            });
            await load();
            message.append(note(t('done'), 'ok'));
          },
          message,
        ),
      );
    }
    if (ctx.can('free-quota.credit')) {
      const period = h('input', {
        name: 'period',
        value: currentMonth(),
        pattern: '\\d{4}-\\d{2}',
        required: true,
      });
      const kwh = h('input', { name: 'kwh', inputmode: 'decimal', required: true });
      forms.push(
        actionForm(
          'free-quota',
          [field('prepaid.period', period), field('prepaid.kwh', kwh)],
          async () => {
            await post('/api/free-quota', {
              account: id,
              period: period.value.trim(),
              kwh: Number(kwh.value),
            });
            await load();
            message.append(note(t('done'), 'ok'));
          },
          message,
        ),
      );
    }
    if (forms.length) box.append(h('section', { class: 'card actions' }, forms));
    box.append(
      h(
        'section',
        { class: 'card' },
        h('h2', {}, t('prepaid.ledger')),
        ledger.length
          ? table(
              [...ledger].reverse(),
              [
                ['col.time', (e) => fmtTime(e.at)],
                ['col.kind', (e) => word('entry', e.type)],
                [
                  'col.amount',
                  (e) => h('span', { class: e.amountFen < 0 ? 'neg' : 'pos' }, fmtFen(e.amountFen)),
                ],
                [
                  'col.by',
                  (e) => [actorName(e.recordedBy), e.approvedBy ? ` / ${actorName(e.approvedBy)}` : ''],
                ],
                [
                  'col.reason',
                  (e) =>
                    e.reason ??
                    e.reference ??
                    (e.quantityMilli ? `${fmtNum(e.quantityMilli / 1000, 3)} kWh` : ''),
                ],
              ],
              (e) => ({ dataset: { entry: e.id, type: e.type } }),
            )
          : note(t('none')),
      ),
    );
  };
  await load();
}

export const prepaidPage = {
  id: 'prepaid',
  nav: 'nav.prepaid',
  allowed: (can) => can('accounts.view'),
  async render(main, params, ctx) {
    const input = h('input', {
      name: 'account',
      value: params[0] ?? '',
      required: true,
      'aria-label': t('prepaid.search'),
    });
    main.append(
      h('h1', {}, t('prepaid.title')),
      h(
        'form',
        {
          class: 'inline-form',
          dataset: { form: 'account-search' },
          onsubmit: (e) => {
            e.preventDefault();
            if (input.value.trim()) ctx.navigate(`#/prepaid/${encodeURIComponent(input.value.trim())}`);
          },
        },
        field('prepaid.search', input),
        h('button', { type: 'submit' }, t('prepaid.open.account')),
      ),
    );
    if (params[0]) await accountView(main, params[0], ctx);
  },
};
