import { clear, h, note } from './dom.js';

/**
 * A reason box and the buttons that act with it on one row of a list: end, approve, refuse or
 * withdraw an electric-heating registration, revoke an API token or a standing approval. Each
 * button hands the trimmed reason to its own `send`, which builds the request: whether a reason is
 * optional is the server's rule for that act, so a page only leaves out what the server allows.
 * Then `done` gets the server's answer and redraws the list. A refusal is shown in `msg` in the words `errorText` gives; without
 * a `msg`, a message line of its own follows the buttons.
 *
 * A button's `required` (a text): it does not send a blank reason; the box gets the focus and the
 * text is shown. `before`: buttons drawn ahead of the box (an approval that takes no reason, next
 * to a rejection that does).
 *
 * @typedef {{
 *   action: string,
 *   label: string,
 *   class?: string,
 *   required?: string,
 *   send: (reason: string) => Promise<unknown>,
 * }} ReasonButton
 * @param {{
 *   name: string,
 *   label: string,
 *   maxlength?: number,
 *   msg?: HTMLElement,
 *   errorText: (err: unknown) => string,
 *   before?: ReasonButton[],
 *   buttons: ReasonButton[],
 *   done: (answer: unknown) => Promise<void> | void,
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
          if (!why && b.required) {
            reason.focus();
            msg.append(note(b.required, 'error'));
            return;
          }
          try {
            await o.done(await b.send(why));
          } catch (err) {
            msg.append(note(o.errorText(err), 'error'));
          }
        },
      },
      b.label,
    );
  return h('span', { class: 'controls' }, (o.before ?? []).map(button), reason, o.buttons.map(button), own);
}
