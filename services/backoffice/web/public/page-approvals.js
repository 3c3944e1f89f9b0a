import { get, post, qs } from './api.js';
import { clear, fmtFen, fmtNum, fmtTime, h, note, table } from './dom.js';
import { t } from './i18n.js';
import { lineOperationControls } from './line-controls.js';
import { cardTable } from './live-table.js';
import { relayTable } from './page-relay.js';
import { reasonControls } from './reason-controls.js';

/**
 * The second person's queue: pending cut-off/restore requests and pending prepaid requests
 * (refunds, meter resets, free quota). A request the viewer made is listed without buttons:
 * nobody approves their own request.
 */

const PREPAID_PATHS = {
  refund: {
    approve: (id) => `/api/refunds/${id}/approve`,
    reject: (id) => `/api/refunds/${id}/reject`,
    permission: 'refunds.approve',
  },
  'meter-reset': {
    approve: (id) => `/api/meter-resets/${id}/approve`,
    reject: (id) => `/api/meter-resets/${id}/reject`,
    permission: 'meter-reset.approve',
  },
  'free-quota': {
    approve: (id) => `/api/free-quota/${id}/confirm`,
    reject: (id) => `/api/free-quota/${id}/reject`,
    permission: 'free-quota.confirm',
  },
};

export const APPROVER_PERMISSIONS = [
  'relay.approve',
  'lines.confirm',
  'refunds.approve',
  'meter-reset.approve',
  'free-quota.confirm',
];

function what(r) {
  if (r.kind === 'refund') return `${fmtFen(r.amountFen)} · ${r.method ? t(`method.${r.method}`) : ''}`;
  if (r.kind === 'free-quota') return `${r.period} · ${fmtNum((r.kwhMilli ?? 0) / 1000, 3)} kWh`;
  return `${r.meter ?? ''} · ${fmtTime(r.resetAt)}`;
}

function prepaidControls(r, ctx, done) {
  const paths = PREPAID_PATHS[r.kind];
  if (!paths || !ctx.can(paths.permission) || r.requestedBy === ctx.actor.id) return null;
  return reasonControls({
    name: 'reason',
    label: t('col.reason'),
    errorText: (err) => t('error', { message: err.message }),
    done,
    before: [
      {
        action: 'approve',
        label: t('approvals.approve'),
        class: 'primary',
        send: () => post(paths.approve(r.id), {}),
      },
    ],
    buttons: [
      {
        action: 'reject',
        label: t('approvals.reject'),
        class: 'danger',
        send: (reason) => post(paths.reject(r.id), reason ? { reason } : {}),
      },
    ],
  });
}

/** Confirm or dispute a colleague's line operation in one click (a dispute needs the note). */
function lineControls(op, ctx, done) {
  if (op.recordedBy.toLowerCase() === ctx.actor.id.toLowerCase()) return note(t('approvals.lines.own'));
  return lineOperationControls(op, { label: t('approvals.lines.note'), done });
}

function linesTable(ops, ctx, done) {
  return cardTable(
    ops,
    [
      ['col.id', (op) => `#${op.id}`],
      ['lines.line', (op) => op.line],
      ['col.action', (op) => t(`lines.${op.action}`)],
      ['lines.at', (op) => fmtTime(op.at)],
      ['col.reason', (op) => op.reason],
      ['lines.recorded.by', (op) => `${op.recordedBy} · ${fmtTime(op.recordedAt)}`],
      ['', (op) => lineControls(op, ctx, done)],
    ],
    (op) => ({ dataset: { lineOp: op.id, state: op.state } }),
  );
}

export const approvalsPage = {
  id: 'approvals',
  nav: 'nav.approvals',
  allowed: (can) => APPROVER_PERMISSIONS.some((p) => can(p)),
  async render(main, _params, ctx) {
    const relayBox = h('div', {});
    const prepaidBox = h('div', {});
    main.append(h('h1', {}, t('approvals.title')));
    if (ctx.can('relay.approve')) {
      main.append(
        h(
          'section',
          { class: 'card', dataset: { section: 'relay' } },
          h('h2', {}, t('approvals.relay')),
          relayBox,
        ),
      );
    }
    const linesBox = h('div', {});
    if (ctx.can('lines.confirm')) {
      main.append(
        h(
          'section',
          { class: 'card lines-wait', dataset: { section: 'lines' } },
          h('h2', {}, t('approvals.lines')),
          note(t('approvals.lines.hint')),
          linesBox,
        ),
      );
    }
    const prepaidApprover = ['refunds.approve', 'meter-reset.approve', 'free-quota.confirm'].some((p) =>
      ctx.can(p),
    );
    if (prepaidApprover && ctx.can('accounts.view')) {
      main.append(
        h(
          'section',
          { class: 'card', dataset: { section: 'prepaid' } },
          h('h2', {}, t('approvals.prepaid')),
          prepaidBox,
        ),
      );
    }
    const load = async () => {
      if (ctx.can('lines.confirm')) {
        const waiting = await get(`/api/line-operations${qs({ state: 'unconfirmed' })}`);
        clear(linesBox).append(
          waiting.length ? linesTable(waiting, ctx, () => void load()) : note(t('approvals.lines.none')),
        );
      }
      if (ctx.can('relay.approve')) {
        const pending = await get(`/api/relay-requests${qs({ state: 'pending' })}`);
        clear(relayBox).append(
          pending.length ? relayTable(pending, ctx, () => void load()) : note(t('none')),
        );
      }
      if (prepaidApprover && ctx.can('accounts.view')) {
        const pending = await get('/api/prepaid-requests');
        clear(prepaidBox).append(
          pending.length
            ? table(
                pending,
                [
                  ['col.seq', (r) => `#${r.id}`],
                  ['col.kind', (r) => t(`kind.${r.kind}`)],
                  [
                    'col.account',
                    (r) => h('a', { href: `#/prepaid/${encodeURIComponent(r.accountId)}` }, r.accountId),
                  ],
                  ['col.amount', (r) => what(r)],
                  ['col.reason', (r) => r.reason ?? ''],
                  ['col.requested.by', (r) => r.requestedBy],
                  ['col.requested.at', (r) => fmtTime(r.requestedAt)],
                  ['', (r) => prepaidControls(r, ctx, () => void load())],
                ],
                (r) => ({ dataset: { prepaidRequest: r.id, kind: r.kind } }),
              )
            : note(t('none')),
        );
      }
    };
    await load();
  },
};
