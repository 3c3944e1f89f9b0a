import { get, post } from './api.js';
import { clear, field, fmtTime, h, note, table } from './dom.js';
import { reasonControls } from './reason-controls.js';
import { errorText, hw } from './words-heating.js';

/**
 * The desk's units heated by electricity: a clerk proposes a household's electricity meter (it
 * pays the electric-heating tariff) and, once a second, independent person — a supervisor —
 * approves it, detection stops alerting on its electricity following the cold; the list says who
 * proposed and decided each, from when it is in force, and who ended it. Refused and withdrawn
 * proposals stay on the list. The server refuses a back-dated start, a heat meter, the clerk's own
 * unit, a second registration over one, and an approval by the proposer or an account linked to
 * them; the page only offers each button to whoever may press it.
 */

const when = (ts) => (ts === null || ts === undefined ? '–' : fmtTime(ts));

function registerForm(reload) {
  const meter = h('input', { name: 'meter', required: true, placeholder: 'E-E-H03' });
  const applicant = h('input', { name: 'applicant', required: true });
  const staffId = h('input', { name: 'applicantStaffId' });
  const reason = h('input', { name: 'reason', required: true, placeholder: hw('electricReasonHint') });
  const out = h('div', { 'aria-live': 'polite' });
  const submit = async (ev) => {
    ev.preventDefault();
    clear(out);
    try {
      const r = await post('/api/heating/electric', {
        ...{ meter: meter.value.trim(), applicant: applicant.value.trim() },
        ...(staffId.value.trim() ? { applicantStaffId: staffId.value.trim() } : {}),
        reason: reason.value.trim(),
      });
      out.append(note(`${hw('electricProposed')}${r.number} · ${r.meter}`, 'ok'));
      await reload();
    } catch (e) {
      out.append(note(errorText(e), 'error'));
    }
  };
  return h(
    'form',
    { dataset: { form: 'heating-electric' }, onsubmit: submit },
    field(hw('electricMeter'), meter),
    field(hw('applicant'), applicant),
    field(hw('staffId'), staffId),
    field(hw('reason'), reason),
    h('button', { type: 'submit' }, hw('electricPropose')),
    out,
  );
}

function endButton(r, msg, reload) {
  return reasonControls({
    name: 'endReason',
    label: hw('endReason'),
    msg,
    errorText,
    done: reload,
    buttons: [
      {
        action: 'end-electric',
        label: hw('electricEnd'),
        class: 'danger',
        send: (reason) => post(`/api/heating/electric/${r.id}/end`, { reason }),
      },
    ],
  });
}

/** Approve or refuse (a supervisor), withdraw (the desk): a proposal's buttons, with a reason. */
function decideButtons(r, can, msg, reload) {
  const act = (action, label, cls) => ({
    action: `${action}-electric`,
    label,
    ...(cls ? { class: cls } : {}),
    send: (why) => post(`/api/heating/electric/${r.id}/${action}`, why ? { reason: why } : {}),
  });
  return reasonControls({
    name: 'decisionReason',
    label: hw('decisionReason'),
    msg,
    errorText,
    done: reload,
    buttons: [
      ...(can('heating.electric-approve')
        ? [act('approve', hw('electricApprove')), act('refuse', hw('electricRefuse'), 'danger')]
        : []),
      ...(can('heating.apply') ? [act('withdraw', hw('electricWithdraw'), 'danger')] : []),
    ],
  });
}

function actions(r, can, msg, reload) {
  if (r.state === 'proposed' && (can('heating.electric-approve') || can('heating.apply')))
    return decideButtons(r, can, msg, reload);
  if (r.state === 'approved' && !r.ended && can('heating.apply')) return endButton(r, msg, reload);
  return '';
}

const decided = (r) =>
  r.decision
    ? `${r.decision.by} · ${when(r.decision.at)}${r.decision.reason ? ` · ${r.decision.reason}` : ''}`
    : '–';

/** The card on the heating desk page. */
export function electricCard(can) {
  const box = h('div', {});
  const msg = h('div', { 'aria-live': 'polite' });
  const load = async () => {
    clear(box);
    const list = await get('/api/heating/electric');
    box.append(
      list.length === 0
        ? note(hw('none'))
        : table(
            list,
            [
              [hw('electricRecord'), (r) => r.number],
              [hw('electricMeter'), (r) => r.meter],
              [hw('applicant'), (r) => r.applicant.name],
              [hw('electricState'), (r) => hw(`es.${r.state}`)],
              [hw('from'), (r) => when(r.from)],
              [hw('inForceFrom'), (r) => when(r.inForceFrom)],
              [hw('to'), (r) => (r.ended ? `${when(r.ended.at)} · ${r.ended.by} · ${r.ended.reason}` : '–')],
              [hw('recordedBy'), (r) => `${r.recordedBy} · ${when(r.recordedAt)}`],
              [hw('decidedBy'), decided],
              [hw('reason'), (r) => r.reason],
              ['', (r) => actions(r, can, msg, load)],
            ],
            (r) => ({
              dataset: { electric: r.meter, ended: r.ended ? 'true' : 'false', state: r.state },
            }),
          ),
    );
  };
  load().catch((e) => box.append(note(errorText(e), 'error')));
  return h(
    'section',
    { class: 'card', dataset: { section: 'heating-electric' } },
    h('h2', {}, hw('electric')),
    h('p', { class: 'hint' }, hw('electricNote')),
    h('p', { class: 'hint' }, hw('electricTwoPeople')),
    ...(can('heating.apply') ? [registerForm(load)] : []),
    msg,
    box,
  );
}
