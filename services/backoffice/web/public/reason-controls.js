import { clear, h, note } from './dom.js';

/**
 * A reason box and the buttons that act with it on one row of a list: end, approve, refuse or
 * withdraw an electric-heating registration, revoke an API token or a standing approval. Each
 * button hands the trimmed reason to its own `send`, which builds the request: whether a reason is
 * optional is the server's rule for that act, so a page only leaves out what the server allows.
 * Then `done` reloads the list. A refusal is shown in `msg` in the words `errorText` gives; without
 * a `msg`, a message line of its own follows the buttons.
 *
 * `required` (a text): a blank reason is not sent; the box gets the focus and the text is shown.
 *
 * @param {{
 *   name: string,
 *   label: string,
 *   maxlength?: number,
 *   required?: string,
 *   msg?: HTMLElement,
 *   errorText: (err: unknown) => string,
 *   buttons: { action: string, label: string, class?: string, send: (reason: string) => Promise<unknown> }[],
 *   done: () => Promise<void> | void,
 * }} o
 */
export function reasonControls(o) {
  const reason = h('input', {
    name: o.name,
    ...(o.maxlength ? { maxlength: o.maxlength } : {}),
    placeholder: o.label,
    'aria-label': o.label,
  });
  const own = o.msg ? null : h('span', {});
  const msg = o.msg ?? own;
  const button = (b) =>
    h(
      'button',
      {
        type: 'button',
        ...(b.class ? { class: b.class } : {}),
        dataset: { action: b.action },
        onclick: async () => {
          clear(msg);
          const why = reason.value.trim();
          if (!why && o.required) {
            reason.focus();
            msg.append(note(o.required, 'error'));
            return;
          }
          try {
            await b.send(why);
            await o.done();
          } catch (err) {
            msg.append(note(o.errorText(err), 'error'));
          }
        },
      },
      b.label,
    );
  return h('span', { class: 'controls' }, reason, o.buttons.map(button), own);
}
