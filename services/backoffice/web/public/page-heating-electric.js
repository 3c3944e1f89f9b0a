import { get, post } from './api.js';
import { clear, field, fmtTime, h, note, table } from './dom.js';
import { errorText, hw } from './words-heating.js';

/**
 * The desk's units heated by electricity: a clerk registers a household's electricity meter (it
 * pays the electric-heating tariff) and detection stops alerting on its electricity following the
 * cold from then on; the list says who recorded each, from when, and who ended it. The server
 * refuses a back-dated start, a heat meter, the clerk's own unit and a second registration over one
 * in force; the page only offers the form to the desk.
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
      out.append(note(`${hw('recorded')}${r.number} · ${r.meter}`, 'ok'));
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
    h('button', { type: 'submit' }, hw('electricRegister')),
    out,
  );
}

function endButton(r, msg, reload) {
  const reason = h('input', {
    name: 'endReason',
    'aria-label': hw('endReason'),
    placeholder: hw('endReason'),
  });
  return h(
    'span',
    { class: 'controls' },
    reason,
    h(
      'button',
      {
        type: 'button',
        class: 'danger',
        dataset: { action: 'end-electric' },
        onclick: async () => {
          clear(msg);
          try {
            await post(`/api/heating/electric/${r.id}/end`, { reason: reason.value.trim() });
            await reload();
          } catch (e) {
            msg.append(note(errorText(e), 'error'));
          }
        },
      },
      hw('electricEnd'),
    ),
  );
}

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
              [hw('from'), (r) => when(r.from)],
              [hw('to'), (r) => (r.ended ? `${when(r.ended.at)} · ${r.ended.by} · ${r.ended.reason}` : '–')],
              [hw('recordedBy'), (r) => `${r.recordedBy} · ${when(r.recordedAt)}`],
              [hw('reason'), (r) => r.reason],
              ['', (r) => (can('heating.apply') && !r.ended ? endButton(r, msg, load) : '')],
            ],
            (r) => ({ dataset: { electric: r.meter, ended: r.ended ? 'true' : 'false' } }),
          ),
    );
  };
  load().catch((e) => box.append(note(errorText(e), 'error')));
  return h(
    'section',
    { class: 'card', dataset: { section: 'heating-electric' } },
    h('h2', {}, hw('electric')),
    h('p', { class: 'hint' }, hw('electricNote')),
    ...(can('heating.apply') ? [registerForm(load)] : []),
    msg,
    box,
  );
}
