import { get, post } from './api.js';
import { clear, field, fmtTime, fromLocalInput, h, note, table } from './dom.js';
import { dateTimeInput } from './inputs.js';
import { t } from './i18n.js';
import { reasonControls } from './reason-controls.js';

/**
 * Standing approvals for the cut-offs and restores the prepaid policy raises (low balance, paid
 * again): a supervisor grants one for a scope (actions; sites or meters, or the whole campus),
 * with a reason and optionally an end, and revokes it with a reason. While one covers a request,
 * the request goes ahead without a person approving it one by one.
 */

const list = (text) =>
  text
    .split(/[\s,;，、]+/)
    .map((s) => s.trim())
    .filter(Boolean);

function scopeText(scope) {
  const actions = scope.actions.map((a) => (a === 'open' ? t('relay.open') : t('relay.close'))).join(', ');
  const where = scope.meters?.length
    ? `${t('policy.meters')}: ${scope.meters.join(', ')}`
    : scope.sites?.length
      ? `${t('policy.sites')}: ${scope.sites.join(', ')}`
      : t('policy.whole.campus');
  return `${actions} · ${where}`;
}

export const policyPage = {
  id: 'policy',
  nav: 'nav.policy',
  allowed: (can) => can('relay.policy-approval'),
  async render(main, _params, ctx) {
    const open = h('input', { type: 'checkbox', name: 'action', value: 'open', checked: true });
    const close = h('input', { type: 'checkbox', name: 'action', value: 'close' });
    const sites = h('input', { name: 'sites', autocomplete: 'off' });
    const meters = h('input', { name: 'meters', autocomplete: 'off' });
    const reason = h('input', { name: 'reason', required: true, maxlength: 500 });
    const until = dateTimeInput({ name: 'until' });
    const message = h('div', { 'aria-live': 'polite' });
    const listBox = h('div', {});
    const siteIds = ctx.cache.tree ? (ctx.cache.tree.sites ?? []).map((s) => s.id ?? s).filter(Boolean) : [];

    const revokeControl = (g) =>
      reasonControls({
        name: 'reason',
        label: t('policy.revoke.reason'),
        maxlength: 500,
        errorText: (err) => t('error', { message: err.message }),
        done: load,
        buttons: [
          {
            action: 'revoke',
            label: t('policy.revoke'),
            class: 'danger',
            required: t('policy.revoke.reason'),
            send: (reason) => post(`/api/policy-approvals/${g.id}/revoke`, { reason }),
          },
        ],
      });

    const load = async () => {
      const grants = await get('/api/policy-approvals');
      clear(listBox).append(
        grants.length
          ? table(
              grants,
              [
                ['col.seq', (g) => `#${g.id}`],
                ['policy.scope', (g) => scopeText(g.scope)],
                ['col.reason', (g) => g.reason],
                ['policy.granted', (g) => `${g.grantedBy} · ${fmtTime(g.grantedAt)}`],
                ['policy.until.col', (g) => (g.until === null ? t('policy.no.end') : fmtTime(g.until))],
                ['', (g) => revokeControl(g)],
              ],
              (g) => ({ dataset: { policyApproval: g.id } }),
            )
          : note(t('policy.none')),
      );
    };

    main.append(
      h('h1', {}, t('policy.title')),
      h('p', { class: 'hint' }, t('policy.hint')),
      h(
        'form',
        {
          class: 'card inline-form',
          dataset: { form: 'policy-grant' },
          onsubmit: async (e) => {
            e.preventDefault();
            clear(message);
            try {
              const actions = [open, close].filter((b) => b.checked).map((b) => b.value);
              if (!actions.length) throw new Error(t('policy.actions'));
              let end;
              if (until.value) {
                end = fromLocalInput(until.value);
                if (end === null) throw new Error(t('policy.until'));
              }
              const siteList = list(sites.value);
              const meterList = list(meters.value);
              const g = await post('/api/policy-approvals', {
                scope: {
                  actions,
                  ...(siteList.length ? { sites: siteList } : {}),
                  ...(meterList.length ? { meters: meterList } : {}),
                },
                reason: reason.value.trim(),
                ...(end !== undefined ? { until: end } : {}),
              });
              message.append(note(t('policy.granted.ok', { id: g.id }), 'ok'));
              reason.value = '';
              await load();
            } catch (err) {
              message.append(note(t('error', { message: err.message }), 'error'));
            }
          },
        },
        h('h2', {}, t('policy.new')),
        h('p', { class: 'hint' }, t('policy.blank.all')),
        h(
          'div',
          { class: 'field' },
          h('span', {}, t('policy.actions')),
          h(
            'span',
            { class: 'checks' },
            h('label', { class: 'check' }, open, t('relay.open')),
            h('label', { class: 'check' }, close, t('relay.close')),
          ),
        ),
        field('policy.sites', sites),
        siteIds.length
          ? h(
              'datalist',
              { id: 'policy-sites' },
              siteIds.map((s) => h('option', { value: s })),
            )
          : null,
        field('policy.meters', meters),
        field('col.reason', reason),
        field('policy.until', until),
        h('button', { type: 'submit', class: 'primary', dataset: { action: 'grant' } }, t('policy.grant')),
        message,
      ),
      h(
        'section',
        { class: 'card', dataset: { section: 'policy-approvals' } },
        h('h2', {}, t('policy.active')),
        listBox,
      ),
    );
    if (siteIds.length) sites.setAttribute('list', 'policy-sites');
    await load();
  },
};
