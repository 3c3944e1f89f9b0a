/* global setTimeout, clearTimeout */
import { get, post, qs } from './api.js';
import { clear, field, fmtTime, h, note, table } from './dom.js';
import { t } from './i18n.js';
import { reasonControls } from './reason-controls.js';

/**
 * Cut-off and restore (DOMAIN.md): anyone on duty may ask, with a reason; nothing moves until a
 * supervisor other than the requester approves. The list shows each request through to what the
 * gateway read back from the relay.
 */

// Armed (DL/T 645 allow closing) is final here: the control service's part is done, the customer
// closes the relay with the meter's button.
const FINAL = ['rejected', 'cancelled', 'done', 'armed', 'failed', 'timed_out', 'held'];

export function relayState(r) {
  return h('span', { class: `badge state-${r.state}`, dataset: { state: r.state } }, t(`state.${r.state}`));
}

/**
 * Approve / reject buttons for a pending relay request, for someone who may approve and did not
 * ask (the server refuses self-approval anyway; the button is not offered).
 */
export function decisionControls(r, ctx, done) {
  if (r.state !== 'pending') return null;
  const errorText = (err) => t('error', { message: err.message });
  if (ctx.can('relay.approve') && r.requestedBy !== ctx.actor.id)
    return reasonControls({
      name: 'reason',
      label: t('relay.reject.reason'),
      errorText,
      done,
      before: [
        {
          action: 'approve',
          label: t('relay.approve'),
          class: 'primary',
          send: () => post(`/api/relay-requests/${r.id}/approve`, {}),
        },
      ],
      buttons: [
        {
          action: 'reject',
          label: t('relay.reject'),
          class: 'danger',
          required: t('relay.reject.reason'),
          send: (reason) => post(`/api/relay-requests/${r.id}/reject`, { reason }),
        },
      ],
    });
  if (r.requestedBy === ctx.actor.id && ctx.can('relay.request'))
    return reasonControls({
      name: 'reason',
      label: t('relay.cancel.reason'),
      errorText,
      done,
      buttons: [
        {
          action: 'cancel',
          label: t('relay.cancel'),
          required: t('relay.cancel.reason'),
          send: (reason) => post(`/api/relay-requests/${r.id}/cancel`, { reason }),
        },
      ],
    });
  return null;
}

export function relayTable(requests, ctx, done) {
  return table(
    requests,
    [
      ['col.seq', (r) => `#${r.id}`],
      ['col.meter', (r) => h('a', { href: `#/meter/${encodeURIComponent(r.meter)}` }, r.meter)],
      ['col.action', (r) => (r.action === 'open' ? t('relay.open') : t('relay.close'))],
      ['col.reason', (r) => r.reason],
      ['col.requested.by', (r) => r.requestedBy],
      ['col.requested.at', (r) => fmtTime(r.requestedAt)],
      ['col.state', (r) => relayState(r)],
      ['col.decided.by', (r) => r.decidedBy ?? ''],
      ['col.observed', (r) => r.observed ?? (r.error ? `${r.error}` : '')],
      ['', (r) => decisionControls(r, ctx, done)],
    ],
    (r) => ({ dataset: { request: r.id, state: r.state } }),
  );
}

export const relayPage = {
  id: 'relay',
  nav: 'nav.relay',
  allowed: (can) => can('relay.request'),
  async render(main, params, ctx) {
    const meter = h('input', { name: 'meter', value: params[0] ?? '', required: true, list: 'relay-meters' });
    const action = h(
      'select',
      { name: 'action' },
      h('option', { value: 'open' }, t('relay.open')),
      h('option', { value: 'close' }, t('relay.close')),
    );
    const reason = h('input', { name: 'reason', required: true, maxlength: 500 });
    const message = h('div', { 'aria-live': 'polite' });
    const listBox = h('div', {});
    const meters = ctx.cache.tree
      ? Object.values(ctx.cache.tree.nodes)
          .filter((n) => n.relay)
          .map((n) => n.id)
      : [];
    main.append(
      h('h1', {}, t('relay.title')),
      h(
        'form',
        {
          class: 'card inline-form',
          dataset: { form: 'relay-request' },
          onsubmit: async (e) => {
            e.preventDefault();
            clear(message);
            try {
              const r = await post('/api/relay-requests', {
                meter: meter.value.trim(),
                action: action.value,
                reason: reason.value.trim(),
              });
              message.append(note(t('relay.requested', { id: r.id }), 'ok'));
              reason.value = '';
              await load();
            } catch (err) {
              message.append(note(t('error', { message: err.message }), 'error'));
            }
          },
        },
        h('h2', {}, t('relay.new')),
        field('relay.meter', meter),
        h(
          'datalist',
          { id: 'relay-meters' },
          meters.map((m) => h('option', { value: m })),
        ),
        field('relay.action', action),
        field('relay.reason', reason),
        h(
          'button',
          { type: 'submit', class: 'primary', dataset: { action: 'request-relay' } },
          t('relay.submit'),
        ),
        message,
      ),
      h('section', { class: 'card' }, h('h2', {}, t('relay.recent')), listBox),
    );
    let timer;
    let shown = '';
    const load = async () => {
      clearTimeout(timer);
      const requests = (await get(`/api/relay-requests${qs({})}`)).slice(-50).reverse();
      // Redrawn only when something changed, so a reason being typed in the list is not lost.
      const json = JSON.stringify(requests);
      if (json !== shown) {
        shown = json;
        clear(listBox).append(
          requests.length ? relayTable(requests, ctx, () => void load()) : note(t('none')),
        );
      }
      // Follow open requests until the gateway has answered: approved elsewhere, sent, read back.
      if (requests.some((r) => !FINAL.includes(r.state))) {
        timer = setTimeout(() => void load().catch(() => {}), 2_000);
      }
    };
    ctx.onCleanup(() => clearTimeout(timer));
    await load();
  },
};
