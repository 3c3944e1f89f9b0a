import { post } from './api.js';
import { clear, h, note } from './dom.js';
import { getLang } from './i18n.js';

/**
 * What the operations desk's record-and-decide pages (capacity increases, planned outages, annual
 * plans) share: words of their own in both languages, a form that records one, a list that
 * reloads after each step, a note with the second person's buttons. The server checks every
 * permission and the four-eyes rule again; these only draw and post.
 */

/** A page's own words: the current language's, else English, else the key. */
export const wordsOf = (S) => (key) => S[getLang()]?.[key] ?? S.en[key] ?? key;

/** A page of the desk: its name in the navigation follows the language (read each time it is drawn). */
export function deskPage({ id, s, permission, render }) {
  return {
    id,
    get nav() {
      return s('nav');
    },
    allowed: (can) => can(permission),
    render,
  };
}

/**
 * A card whose form (`section` names both) records one: `send()` posts what the fields hold, and
 * `done(result)` says what was recorded; the list is reloaded then. A refusal shows the server's
 * words and keeps what was typed.
 */
export function formCard({ section, title, fields, submit, send, done, reload }) {
  const out = h('div', { 'aria-live': 'polite' });
  const onsubmit = async (ev) => {
    ev.preventDefault();
    clear(out);
    try {
      out.append(note(done(await send()), 'ok'));
      await reload();
    } catch (e) {
      out.append(note(e.message, 'error'));
    }
  };
  return h(
    'section',
    { class: 'card', dataset: { section } },
    h('h2', {}, title),
    h('form', { dataset: { form: section }, onsubmit }, ...fields, h('button', { type: 'submit' }, submit)),
    out,
  );
}

/**
 * A list card: `fetch()` gives the items, `draw(items)` what shows them (a table and what goes
 * with it); `none` is said when there are none. `load` draws it again, after every step.
 */
export function listCard({ section, title, none, fetch, draw }) {
  const box = h('div', {});
  const msg = h('div', { 'aria-live': 'polite' });
  const load = async () => {
    clear(box);
    const items = await fetch();
    if (items.length === 0) return box.append(note(none));
    box.append(...[await draw(items, { load, msg })].flat());
  };
  load().catch((e) => box.append(note(e.message, 'error')));
  return { el: h('section', { class: 'card', dataset: { section } }, h('h2', {}, title), msg, box), load };
}

/**
 * The steps one item may take now, as a note box and a button each: a button posts to
 * `${url}/${path}` what `body(note)` makes of the note (nothing when it has no body), then reloads
 * the list; a refusal is shown in `msg`. No step: nothing is drawn.
 */
export function stepControls({ url, noteLabel, steps, msg, reload }) {
  if (steps.length === 0) return '';
  const why = h('input', { name: 'note', maxlength: 2000, placeholder: noteLabel, 'aria-label': noteLabel });
  const button = ({ path, key, label, kind, body }) =>
    h(
      'button',
      {
        type: 'button',
        class: kind,
        dataset: { action: key ?? path },
        onclick: async () => {
          clear(msg);
          try {
            await post(`${url}/${path}`, body ? body(why.value.trim()) : undefined);
            await reload();
          } catch (e) {
            msg.append(note(e.message, 'error'));
          }
        },
      },
      label,
    );
  return h('span', { class: 'controls' }, why, ...steps.map(button));
}
