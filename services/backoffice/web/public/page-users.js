import { api, get, post } from './api.js';
import { clear, field, fmtTime, fromLocalInput, h, note, table } from './dom.js';
import { dateInput } from './inputs.js';
import { t } from './i18n.js';
import { reasonControls } from './reason-controls.js';
import { errorText, personName as shownName } from './words-render.js';

/**
 * Users and API tokens, for administrators only ('users.manage'), under four eyes: creating a
 * user, granting a role, enabling, resetting a password and making a token are proposed here and
 * take effect when another administrator approves them in the list of requests. The approver is
 * shown, once, the new user's one-time code (which the user redeems on the login page to set a
 * password of their own) or the token's secret. The server refuses what must not happen (a reader
 * who records payments, approving one's own proposal, an approver linked to the proposer); its
 * message is shown as it comes.
 */

/**
 * The administrators an account is still linked to (four eyes): each, what they did and until
 * when — a role grant or re-enabling for a number of days, a creation or password reset until the
 * holder sets a password of their own. Neither can be the other's second person meanwhile.
 */
function linksCell(links) {
  if (links.length === 0) return h('span', { class: 'hint' }, '—');
  return h(
    'span',
    { dataset: { field: 'links' } },
    ...links.map((l, i) =>
      h(
        'span',
        { class: 'link-entry' },
        i > 0 ? '; ' : '',
        t('users.link', {
          by: l.by,
          what: t(`users.link.${l.action}`),
          at: fmtTime(l.at),
          until:
            l.until === null
              ? t('users.link.until.password')
              : t('users.link.until', { at: fmtTime(l.until) }),
        }),
      ),
    ),
  );
}

/** A group of role checkboxes; `values()` is the roles ticked, in the order of roles.ts. */
function roleChecks(roles, selected, name) {
  const boxes = roles.map((r) =>
    h('input', { type: 'checkbox', name, value: r, checked: selected.includes(r), dataset: { role: r } }),
  );
  const el = h(
    'span',
    { class: 'checks', role: 'group', 'aria-label': t('users.roles') },
    boxes.map((b, i) => h('label', { class: 'check' }, b, t(`role.${roles[i]}`))),
  );
  return { el, boxes, values: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}

const roleNames = (roles) => (roles.length ? roles.map((r) => t(`role.${r}`)).join(', ') : '–');

/** What to do with one user: roles, disable/enable, a new password. Folded until opened. */
function userControls(user, ctx, done) {
  const message = h('span', { 'aria-live': 'polite' });
  const fail = (err) => clear(message).append(note(errorText(err), 'error'));
  const checks = roleChecks(ctx.perms.roles, user.roles, `roles-${user.username}`);
  const reason = h('input', {
    name: 'reason',
    maxlength: 500,
    placeholder: t('users.reason'),
    'aria-label': t('users.reason'),
  });
  const act = (fn) => async () => {
    clear(message);
    try {
      const result = await fn();
      await done(
        result && result.kind && result.state === 'pending'
          ? t('users.proposed', { id: result.id })
          : t('done'),
      );
    } catch (err) {
      fail(err);
    }
  };
  const withReason = () => (reason.value.trim() ? { reason: reason.value.trim() } : {});
  return h(
    'details',
    { class: 'manage' },
    h('summary', { dataset: { action: 'manage' } }, t('users.manage')),
    h(
      'div',
      { class: 'manage-body' },
      checks.el,
      field('users.reason', reason),
      h(
        'span',
        { class: 'controls' },
        h(
          'button',
          {
            type: 'button',
            class: 'primary',
            dataset: { action: 'save-roles' },
            onclick: act(() =>
              api('PUT', `/api/users/${encodeURIComponent(user.username)}/roles`, {
                roles: checks.values(),
                ...withReason(),
              }),
            ),
          },
          t('users.save.roles'),
        ),
        user.disabled
          ? h(
              'button',
              {
                type: 'button',
                dataset: { action: 'enable' },
                onclick: act(() =>
                  post(`/api/users/${encodeURIComponent(user.username)}/enable`, withReason()),
                ),
              },
              t('users.enable'),
            )
          : h(
              'button',
              {
                type: 'button',
                class: 'danger',
                dataset: { action: 'disable' },
                onclick: act(() =>
                  post(`/api/users/${encodeURIComponent(user.username)}/disable`, withReason()),
                ),
              },
              t('users.disable'),
            ),
      ),
      h(
        'span',
        { class: 'controls' },
        h(
          'button',
          {
            type: 'button',
            dataset: { action: 'reset-password' },
            onclick: act(() =>
              post(`/api/users/${encodeURIComponent(user.username)}/password`, withReason()),
            ),
          },
          t('users.reset.password'),
        ),
      ),
      message,
    ),
  );
}

async function usersSection(main, ctx) {
  const listBox = h('div', {});
  const listMessage = h('div', { 'aria-live': 'polite' });
  const message = h('div', { 'aria-live': 'polite' });
  const username = h('input', { name: 'username', required: true, maxlength: 64, autocomplete: 'off' });
  const displayName = h('input', { name: 'displayName', required: true, maxlength: 100 });
  const checks = roleChecks(ctx.perms.roles, [], 'roles');

  const load = async (said) => {
    const users = await get('/api/users');
    clear(listMessage);
    if (said) listMessage.append(note(said, 'ok'));
    clear(listBox).append(
      users.length
        ? table(
            users,
            [
              ['users.username', (u) => u.username],
              ['col.name', (u) => shownName(u.displayName)],
              ['users.roles', (u) => h('span', { dataset: { field: 'roles' } }, roleNames(u.roles))],
              [
                'col.state',
                (u) =>
                  h(
                    'span',
                    { class: u.disabled ? 'badge state-rejected' : 'badge state-done' },
                    u.disabled ? t('users.disabled') : t('users.active'),
                  ),
              ],
              ['users.created.at', (u) => fmtTime(u.createdAt)],
              ['users.links', (u) => linksCell(u.links ?? [])],
              [
                '',
                (u) =>
                  u.username === ctx.actor.id
                    ? h('span', { class: 'hint' }, t('users.yourself'))
                    : userControls(u, ctx, load),
              ],
            ],
            (u) => ({
              class: u.disabled ? 'inactive' : undefined,
              dataset: {
                username: u.username,
                disabled: String(u.disabled),
                roles: u.roles.join(','),
                linked: (u.links ?? []).map((l) => l.by).join(','),
              },
            }),
          )
        : note(t('none')),
    );
  };

  main.append(
    h(
      'form',
      {
        class: 'card inline-form',
        dataset: { form: 'user-create' },
        onsubmit: async (e) => {
          e.preventDefault();
          clear(message);
          try {
            const req = await post('/api/users', {
              username: username.value.trim(),
              displayName: displayName.value.trim(),
              roles: checks.values(),
            });
            message.append(note(t('users.proposed', { id: req.id }), 'ok'));
            username.value = '';
            displayName.value = '';
            for (const b of checks.boxes) b.checked = false;
            await load();
            await ctx.reloadRequests?.();
          } catch (err) {
            message.append(note(errorText(err), 'error'));
          }
        },
      },
      h('h2', {}, t('users.new')),
      field('users.username', username),
      field('users.display.name', displayName),
      h('div', { class: 'field' }, h('span', {}, t('users.roles')), checks.el),
      h('button', { type: 'submit', class: 'primary' }, t('users.create')),
      message,
    ),
    h(
      'section',
      { class: 'card', dataset: { section: 'users' } },
      h('h2', {}, t('users.list')),
      listMessage,
      listBox,
    ),
  );
  await load();
}

function tokenState(k) {
  if (k.revokedAt !== null) return ['revoked', 'state-rejected'];
  if (k.expiresAt !== null && k.expiresAt <= Date.now()) return ['expired', 'state-timed_out'];
  return ['active', 'state-done'];
}

async function tokensSection(main, ctx) {
  const listBox = h('div', {});
  const message = h('div', { 'aria-live': 'polite' });
  const name = h('input', { name: 'token-name', required: true, maxlength: 64, autocomplete: 'off' });
  const expires = dateInput({ name: 'expires' });
  const scopesBox = h('span', { class: 'checks', role: 'group', 'aria-label': t('tokens.scopes') });
  let scopeBoxes = [];
  const checks = roleChecks(ctx.perms.roles, [], 'token-roles');
  // The scopes offered are those the ticked roles grant; the server refuses the rest (approvals,
  // user management and reading edits are for people only) with its reason.
  const drawScopes = () => {
    const roles = checks.values();
    const ticked = new Set(scopeBoxes.filter((b) => b.checked).map((b) => b.value));
    const offered = Object.entries(ctx.perms.permissions)
      .filter(([, allowed]) => roles.some((r) => allowed.includes(r)))
      .map(([p]) => p);
    scopeBoxes = offered.map((p) =>
      h('input', {
        type: 'checkbox',
        name: 'scope',
        value: p,
        checked: ticked.has(p),
        dataset: { scope: p },
      }),
    );
    clear(scopesBox).append(
      ...(scopeBoxes.length
        ? scopeBoxes.map((b) => h('label', { class: 'check' }, b, h('code', {}, b.value)))
        : [h('span', { class: 'hint' }, t('tokens.pick.roles'))]),
    );
  };
  for (const b of checks.boxes) b.addEventListener('change', drawScopes);
  drawScopes();

  const load = async () => {
    const tokens = await get('/api/tokens');
    clear(listBox).append(
      tokens.length
        ? table(
            tokens,
            [
              ['tokens.name', (k) => k.name],
              ['users.roles', (k) => roleNames(k.roles)],
              ['tokens.scopes', (k) => k.scopes.map((s, i) => [i ? ' ' : '', h('code', {}, s)])],
              ['col.by', (k) => `${k.createdBy} · ${fmtTime(k.createdAt)}`],
              ['tokens.expires', (k) => (k.expiresAt === null ? t('tokens.never') : fmtTime(k.expiresAt))],
              ['tokens.last.used', (k) => (k.lastUsedAt === null ? '–' : fmtTime(k.lastUsedAt))],
              [
                'col.state',
                (k) => {
                  const [state, cls] = tokenState(k);
                  return h('span', { class: `badge ${cls}`, dataset: { state } }, t(`tokens.${state}`));
                },
              ],
              ['', (k) => (k.revokedAt === null ? revokeControl(k) : null)],
            ],
            (k) => ({
              class: k.revokedAt === null ? undefined : 'inactive',
              dataset: { token: k.name, state: tokenState(k)[0] },
            }),
          )
        : note(t('none')),
    );
  };

  const revokeControl = (k) =>
    reasonControls({
      name: 'reason',
      label: t('users.reason'),
      maxlength: 500,
      errorText,
      done: load,
      buttons: [
        {
          action: 'revoke',
          label: t('tokens.revoke'),
          class: 'danger',
          send: (reason) =>
            post(`/api/tokens/${encodeURIComponent(k.name)}/revoke`, reason ? { reason } : {}),
        },
      ],
    });

  main.append(
    h(
      'form',
      {
        class: 'card inline-form',
        dataset: { form: 'token-create' },
        onsubmit: async (e) => {
          e.preventDefault();
          clear(message);
          try {
            let expiresAt;
            if (expires.value) {
              expiresAt = fromLocalInput(expires.value);
              if (expiresAt === null) throw new Error(t('tokens.expires'));
            }
            const req = await post('/api/tokens', {
              name: name.value.trim(),
              roles: checks.values(),
              scopes: scopeBoxes.filter((b) => b.checked).map((b) => b.value),
              ...(expiresAt !== undefined ? { expiresAt } : {}),
            });
            message.append(note(t('users.proposed', { id: req.id }), 'ok'));
            name.value = '';
            await load();
            await ctx.reloadRequests?.();
          } catch (err) {
            message.append(note(errorText(err), 'error'));
          }
        },
      },
      h('h2', {}, t('tokens.new')),
      field('tokens.name', name),
      h('div', { class: 'field' }, h('span', {}, t('users.roles')), checks.el),
      h('div', { class: 'field' }, h('span', {}, t('tokens.scopes')), scopesBox),
      field('tokens.expires', expires),
      h('button', { type: 'submit', class: 'primary' }, t('tokens.create')),
      message,
    ),
    h('section', { class: 'card', dataset: { section: 'tokens' } }, h('h2', {}, t('tokens.list')), listBox),
  );
  await load();
}

/** What a request would do, in words. */
function requestChange(r) {
  const c = r.change;
  if (r.kind === 'create') return `${c.username} (${shownName(c.displayName)}): ${roleNames(c.roles)}`;
  if (r.kind === 'roles') return `${c.username}: ${roleNames(c.before)} → ${roleNames(c.roles)}`;
  if (r.kind === 'token') return `${c.name}: ${roleNames(c.roles)} · ${c.scopes.join(' ')}`;
  return c.username;
}

/**
 * Requests waiting for a second administrator: approve or reject another administrator's, cancel
 * one's own. An approval's one-time code or token secret is shown here, once.
 */
async function requestsSection(main, ctx, reloadUsers) {
  const listBox = h('div', {});
  const resultBox = h('div', { 'aria-live': 'polite' });
  const load = async () => {
    const pending = await get('/api/user-requests?state=pending');
    clear(listBox).append(
      pending.length
        ? table(
            pending,
            [
              ['col.id', (r) => String(r.id)],
              ['users.request.kind', (r) => t(`users.request.${r.kind}`)],
              ['users.request.change', (r) => requestChange(r)],
              ['col.by', (r) => `${r.requestedBy} · ${fmtTime(r.requestedAt)}`],
              ['', (r) => requestControls(r)],
            ],
            (r) => ({ dataset: { request: String(r.id), kind: r.kind } }),
          )
        : note(t('none')),
    );
  };
  const decide = (r, what) => async () => {
    clear(resultBox);
    try {
      const out = await post(`/api/user-requests/${r.id}/${what}`, {});
      if (out.oneTimeCode) {
        resultBox.append(
          h(
            'div',
            { class: 'secret', dataset: { codeFor: out.oneTimeCode.username } },
            h(
              'p',
              {},
              t('users.code.once', {
                username: out.oneTimeCode.username,
                until: fmtTime(out.oneTimeCode.expiresAt),
              }),
            ),
            h('code', { dataset: { code: '' } }, out.oneTimeCode.code),
          ),
        );
      }
      if (out.token) {
        resultBox.append(
          h(
            'div',
            { class: 'secret', dataset: { secretFor: out.token.info.name } },
            h('p', {}, t('tokens.secret.once', { name: out.token.info.name })),
            h('code', { dataset: { secret: '' } }, out.token.token),
          ),
        );
      }
      await load();
      await reloadUsers();
    } catch (err) {
      resultBox.append(note(errorText(err), 'error'));
    }
  };
  const requestControls = (r) =>
    r.requestedBy === ctx.actor.id
      ? h(
          'span',
          { class: 'controls' },
          h(
            'button',
            { type: 'button', dataset: { action: 'cancel-request' }, onclick: decide(r, 'cancel') },
            t('users.request.cancel'),
          ),
        )
      : h(
          'span',
          { class: 'controls' },
          h(
            'button',
            {
              type: 'button',
              class: 'primary',
              dataset: { action: 'approve-request' },
              onclick: decide(r, 'approve'),
            },
            t('users.request.approve'),
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'danger',
              dataset: { action: 'reject-request' },
              onclick: decide(r, 'reject'),
            },
            t('users.request.reject'),
          ),
        );
  main.append(
    h(
      'section',
      { class: 'card', dataset: { section: 'user-requests' } },
      h('h2', {}, t('users.requests')),
      h('p', { class: 'hint' }, t('users.requests.hint')),
      resultBox,
      listBox,
    ),
  );
  ctx.reloadRequests = load;
  await load();
}

export const usersPage = {
  id: 'users',
  nav: 'nav.users',
  allowed: (can) => can('users.manage'),
  async render(main, _params, ctx) {
    main.append(h('h1', {}, t('users.title')));
    const usersBox = h('div', {});
    const requestsBox = h('div', {});
    main.append(requestsBox, usersBox);
    await usersSection(usersBox, ctx);
    await requestsSection(requestsBox, ctx, async () => {
      clear(usersBox);
      await usersSection(usersBox, ctx);
    });
    main.append(h('h1', {}, t('tokens.title')));
    await tokensSection(main, ctx);
  },
};
