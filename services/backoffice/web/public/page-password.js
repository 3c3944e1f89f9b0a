/* global window */
import { api } from './api.js';
import { clear, field, h, note } from './dom.js';
import { passwordError, pw } from './words-password.js';

/**
 * A person changes their own password, giving the current one (POST /api/me/password). Besides
 * the usual reasons it is what makes an account its holder's own: until then, whoever created or
 * reset it (and so saw its one-time code) counts as the same person in two-person approvals
 * (services/platform/auth/independence.ts). The server ends every session of the account, so the
 * page asks for a new login afterwards.
 */

function form(out) {
  const input = (name, autocomplete) =>
    h('input', { name, type: 'password', autocomplete, required: true, maxlength: 1024 });
  const current = input('current', 'current-password');
  const next = input('password', 'new-password');
  const repeat = input('repeat', 'new-password');
  const submit = async (ev) => {
    ev.preventDefault();
    clear(out);
    if (next.value !== repeat.value) {
      out.append(note(pw('mismatch'), 'error'));
      return;
    }
    try {
      await api('POST', '/api/me/password', { current: current.value, password: next.value });
      for (const el of [current, next, repeat]) el.value = '';
      out.append(
        note(pw('done'), 'ok'),
        h(
          'button',
          { type: 'button', dataset: { action: 'login-again' }, onclick: () => window.location.reload() },
          pw('login'),
        ),
      );
    } catch (e) {
      out.append(note(passwordError(e), 'error'));
    }
  };
  return h(
    'form',
    { dataset: { form: 'change-password' }, onsubmit: submit },
    field(pw('current'), current),
    field(pw('next'), next),
    field(pw('repeat'), repeat),
    h('button', { type: 'submit' }, pw('submit')),
  );
}

/** No menu entry: the header's link beside the user's name opens it. */
export const passwordPage = {
  id: 'password',
  allowed: () => true,
  async render(main) {
    const out = h('div', { 'aria-live': 'polite' });
    main.append(
      h(
        'section',
        { class: 'card', dataset: { section: 'change-password' } },
        h('h1', {}, pw('title')),
        h('p', { class: 'hint' }, pw('why')),
        form(out),
        out,
      ),
    );
  },
};
