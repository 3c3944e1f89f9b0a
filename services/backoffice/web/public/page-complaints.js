import { get, post, api, qs } from './api.js';
import { clear, field, fmtTime, h, localToday, note } from './dom.js';
import { dateInput } from './inputs.js';
import { t } from './i18n.js';
import { actorName, errorText } from './words-render.js';

/**
 * Complaints and tips (#/complaints, #/complaints/<number>): the dedicated staff record hotline
 * calls and box notes, read the tip mailbox, search the list, and on a case assign it, link it to
 * alerts, accounts, meters and the inspectors sent, and close it with an outcome. Inspectors see
 * only the cases linked to them, read-only. An anonymous tipster comes from the server as
 * "anonymous" to everyone; the staff may ask for the identity, and that read is audited there.
 */

const FLAGS = [
  ['empty file', 'empty'],
  ['no header lines', 'noHeaders'],
  ['no sender address', 'noFrom'],
  ['no subject and no text', 'nothing'],
  ['larger than', 'tooLarge'],
  ['unreadable', 'unreadable'],
];
const flagText = (flag) => t(`ts.flag.${FLAGS.find(([p]) => flag.startsWith(p))?.[1] ?? 'unreadable'}`);

/** Summaries the mail drop writes itself are shown in the reader's words; typed ones as they are. */
const summaryText = (c) =>
  c.summary === '(unreadable message)'
    ? t('ts.summary.unreadable')
    : c.summary === '(no subject)'
      ? t('ts.summary.noSubject')
      : c.summary;

/** What a step names: the assignee, or the link ("inspection insp.wang") with its kind in words. */
function stepNote(s) {
  if (s.action === 'assign') return ` (${s.note})`;
  if (s.action !== 'link' && s.action !== 'unlink') return '';
  const [kind, ...ref] = s.note.split(' ');
  return ` (${t(`ts.link.${kind}`)} ${ref.join(' ')})`;
}

const tipsterText = (c) =>
  c.tipster.anonymous && c.tipster.name === 'anonymous'
    ? t('ts.anon')
    : [c.tipster.name, c.tipster.phone, c.tipster.email].filter(Boolean).join(' · ') || '–';

const select = (name, values, word, withAny) =>
  h(
    'select',
    { name },
    withAny ? h('option', { value: '' }, t('ts.any')) : null,
    values.map((v) => h('option', { value: v }, t(`${word}.${v}`))),
  );

/** A table that becomes one card per case under 600 px (styles.css .lv-table), each cell labelled. */
function cardTable(items, columns, rowAttrs) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'lv-table ts-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map(([label]) => h('th', { scope: 'col' }, label)),
        ),
      ),
      h(
        'tbody',
        {},
        items.map((item) =>
          h(
            'tr',
            rowAttrs(item),
            columns.map(([label, cell], i) =>
              h('td', i === 0 ? { class: 'key' } : { dataset: { label } }, cell(item)),
            ),
          ),
        ),
      ),
    ),
  );
}

function intakeForm(onDone) {
  const channel = select('channel', ['hotline', 'box'], 'ts.channel');
  const kind = select('kind', ['tip', 'complaint'], 'ts.kind');
  const summary = h('input', { name: 'summary', required: true, maxlength: 300 });
  const details = h('textarea', { name: 'details', rows: 3, maxlength: 10000 });
  const box = h('input', { name: 'box', maxlength: 100 });
  const opened = dateInput({ name: 'boxOpenedOn', value: localToday() });
  const boxFields = h(
    'div',
    { class: 'ts-box', hidden: true },
    field('ts.box', box),
    field('ts.boxOpenedOn', opened),
  );
  channel.addEventListener('change', () => (boxFields.hidden = channel.value !== 'box'));
  const anonymous = h('input', { name: 'anonymous', type: 'checkbox', checked: true });
  const name = h('input', { name: 'tipsterName', maxlength: 100, autocomplete: 'off' });
  const phone = h('input', { name: 'tipsterPhone', maxlength: 30, autocomplete: 'off', inputmode: 'tel' });
  const email = h('input', { name: 'tipsterEmail', maxlength: 254, autocomplete: 'off', type: 'email' });
  const out = h('div', { 'aria-live': 'polite' });
  const submit = async (ev) => {
    ev.preventDefault();
    clear(out);
    try {
      const c = await post('/api/complaints', {
        channel: channel.value,
        kind: kind.value,
        summary: summary.value.trim(),
        details: details.value.trim(),
        anonymous: anonymous.checked,
        tipster: { name: name.value, phone: phone.value, email: email.value },
        ...(channel.value === 'box' ? { box: box.value.trim(), boxOpenedOn: opened.value } : {}),
      });
      out.append(note(t('ts.recorded', { number: c.number }), 'ok'));
      for (const i of [summary, details, name, phone, email]) i.value = '';
      await onDone();
    } catch (e) {
      out.append(note(errorText(e), 'error'));
    }
  };
  return h(
    'section',
    { class: 'card', dataset: { section: 'complaint-intake' } },
    h('h2', {}, t('ts.intake')),
    h(
      'form',
      { dataset: { form: 'complaint-intake' }, onsubmit: submit },
      field('ts.channel', channel),
      field('ts.kind', kind),
      boxFields,
      field('ts.summary', summary),
      field('ts.details', details),
      h('label', { class: 'field check' }, anonymous, h('span', {}, t('ts.anonymous'))),
      h(
        'fieldset',
        {},
        h('legend', {}, t('ts.tipster')),
        field('ts.tipster.name', name),
        field('ts.tipster.phone', phone),
        field('ts.tipster.email', email),
      ),
      h('button', { type: 'submit' }, t('ts.submit')),
    ),
    out,
  );
}

function listSection(ctx, linkedOnly) {
  const box = h('div', {});
  const q = h('input', {
    name: 'q',
    type: 'search',
    placeholder: t('ts.search'),
    'aria-label': t('ts.search'),
  });
  const state = select('state', ['open', 'assigned', 'closed'], 'ts.state', true);
  const channel = select('channel', ['hotline', 'box', 'email'], 'ts.channel', true);
  const flagged = h('input', { name: 'flagged', type: 'checkbox' });
  const load = async () => {
    const cases = await get(
      `/api/complaints${qs({ q: q.value.trim(), state: state.value, channel: channel.value, flagged: flagged.checked ? 'true' : '' })}`,
    );
    clear(box);
    if (cases.length === 0) return box.append(note(t(linkedOnly ? 'ts.none.linked' : 'ts.none')));
    box.append(
      cardTable(
        cases,
        [
          [t('ts.number'), (c) => h('a', { href: `#/complaints/${c.number}` }, c.number)],
          [t('ts.received'), (c) => fmtTime(c.receivedAt)],
          [t('ts.channel'), (c) => `${t(`ts.channel.${c.channel}`)} · ${t(`ts.kind.${c.kind}`)}`],
          [
            t('ts.summary.short'),
            (c) => [summaryText(c), c.flag ? h('span', { class: 'badge warn' }, ` ${t('ts.flag')}`) : null],
          ],
          [t('ts.tipster'), tipsterText],
          [
            t('ts.state'),
            (c) => h('span', { class: 'badge', dataset: { state: c.state } }, t(`ts.state.${c.state}`)),
          ],
          [t('ts.assignee'), (c) => c.assignee ?? '–'],
        ],
        (c) => ({ dataset: { complaint: c.number, state: c.state } }),
      ),
    );
  };
  const form = h(
    'form',
    {
      class: 'controls ts-filters',
      dataset: { form: 'complaint-search' },
      onsubmit: (ev) => {
        ev.preventDefault();
        load().catch((e) => box.replaceChildren(note(errorText(e), 'error')));
      },
    },
    q,
    field('ts.filter.state', state),
    field('ts.filter.channel', channel),
    h('label', { class: 'field check' }, flagged, h('span', {}, t('ts.filter.flagged'))),
    h('button', { type: 'submit' }, t('ts.find')),
  );
  const out = h('div', { 'aria-live': 'polite' });
  const scan = ctx.can('complaints.record')
    ? h(
        'button',
        {
          type: 'button',
          dataset: { action: 'scan-mailbox' },
          onclick: async () => {
            clear(out);
            try {
              out.append(note(t('ts.scanned', await post('/api/complaints/mail-drop/scan')), 'ok'));
              await load();
            } catch (e) {
              out.append(note(errorText(e), 'error'));
            }
          },
        },
        t('ts.scan'),
      )
    : null;
  load().catch((e) => box.append(note(errorText(e), 'error')));
  return {
    el: h('section', { class: 'card', dataset: { section: 'complaints' } }, form, scan, out, box),
    load,
  };
}

function facts(c) {
  const rows = [
    [t('ts.channel'), `${t(`ts.channel.${c.channel}`)} · ${t(`ts.kind.${c.kind}`)}`],
    [t('ts.received'), fmtTime(c.receivedAt)],
    ...(c.box ? [[t('ts.box'), `${c.box} · ${c.boxOpenedOn}`]] : []),
    [t('ts.state'), t(`ts.state.${c.state}`)],
    [t('ts.assignee'), c.assignee ?? '–'],
    ...(c.outcome ? [[t('ts.outcome'), `${t(`ts.outcome.${c.outcome}`)} · ${c.outcomeNote}`]] : []),
    ...(c.flag ? [[t('ts.flag'), flagText(c.flag)]] : []),
  ];
  return h(
    'dl',
    { class: 'facts' },
    rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}

function tipsterBlock(c, ctx) {
  const out = h('div', { dataset: { tipster: c.number } }, h('p', {}, tipsterText(c)));
  if (!ctx.can('complaints.identity') || !c.tipster.anonymous) return out;
  const reveal = h(
    'button',
    {
      type: 'button',
      dataset: { action: 'reveal' },
      onclick: async () => {
        try {
          const who = await get(`/api/complaints/${c.number}/tipster`);
          reveal.replaceWith(
            h(
              'p',
              { dataset: { revealed: c.number } },
              [who.name, who.phone, who.email].filter(Boolean).join(' · ') || '–',
              ' — ',
              t(who.commitmentHolds === false ? 'ts.identity.broken' : 'ts.identity.check'),
            ),
          );
        } catch (e) {
          out.append(note(errorText(e), 'error'));
        }
      },
    },
    t('ts.reveal'),
  );
  out.append(reveal);
  if (c.channel === 'email' && !c.flag?.startsWith('larger'))
    out.append(
      h(
        'p',
        {},
        h('a', { href: `/api/complaints/${c.number}/raw`, download: `${c.number}.eml` }, t('ts.raw')),
      ),
    );
  return out;
}

function linkList(c, ctx, act) {
  if (c.links.length === 0) return note(t('ts.link.none'));
  return h(
    'ul',
    { class: 'ts-links' },
    c.links.map((l) =>
      h(
        'li',
        { dataset: { link: `${l.kind}:${l.ref}` } },
        `${t(`ts.link.${l.kind}`)} `,
        l.kind === 'alert' && ctx.can('alerts.view')
          ? h('a', { href: `#/alerts/${l.ref}` }, `#${l.ref}`)
          : l.ref,
        l.note ? ` — ${l.note}` : '',
        ctx.can('complaints.record') && c.state !== 'closed'
          ? h(
              'button',
              {
                type: 'button',
                class: 'link-button',
                dataset: { action: 'unlink' },
                onclick: () =>
                  act(() =>
                    api('DELETE', `/api/complaints/${c.number}/links/${l.kind}/${encodeURIComponent(l.ref)}`),
                  ),
              },
              t('ts.link.remove'),
            )
          : null,
      ),
    ),
  );
}

function staffForms(c, act) {
  if (c.state === 'closed') return [];
  const to = h('input', { name: 'assignee', required: true, value: c.assignee ?? '' });
  const kind = select('kind', ['alert', 'account', 'meter', 'inspection'], 'ts.link');
  const ref = h('input', {
    name: 'ref',
    required: true,
    placeholder: t('ts.link.ref'),
    'aria-label': t('ts.link.ref'),
  });
  const linkNote = h('input', { name: 'note', maxlength: 500 });
  const outcome = select(
    'outcome',
    ['substantiated', 'unsubstantiated', 'referred', 'withdrawn', 'duplicate'],
    'ts.outcome',
  );
  const closeNote = h('textarea', { name: 'outcomeNote', rows: 2, required: true, maxlength: 2000 });
  const form = (name, title, onsubmit, ...fields) =>
    h(
      'form',
      { class: 'ts-form', dataset: { form: name }, onsubmit: (ev) => (ev.preventDefault(), onsubmit()) },
      h('h3', {}, title),
      ...fields,
    );
  return [
    form(
      'complaint-assign',
      t('ts.assign.do'),
      () => act(() => post(`/api/complaints/${c.number}/assign`, { to: to.value.trim() })),
      field('ts.assign', to),
      h('button', { type: 'submit' }, t('ts.assign.do')),
    ),
    form(
      'complaint-link',
      t('ts.link.do'),
      () =>
        act(() =>
          post(`/api/complaints/${c.number}/links`, {
            kind: kind.value,
            ref: ref.value.trim(),
            ...(linkNote.value.trim() ? { note: linkNote.value.trim() } : {}),
          }),
        ),
      field('ts.link.kind', kind),
      field('ts.link.ref', ref),
      field('ts.link.note', linkNote),
      h('button', { type: 'submit' }, t('ts.link.do')),
    ),
    form(
      'complaint-close',
      t('ts.close'),
      () =>
        act(() =>
          post(`/api/complaints/${c.number}/close`, { outcome: outcome.value, note: closeNote.value.trim() }),
        ),
      field('ts.outcome', outcome),
      field('ts.outcome.note', closeNote),
      h('button', { type: 'submit', class: 'danger' }, t('ts.close.do')),
    ),
  ];
}

async function detail(main, number, ctx) {
  const body = h('div', { dataset: { section: 'complaint-view' } });
  const msg = h('div', { 'aria-live': 'polite' });
  const show = async () => {
    const c = await get(`/api/complaints/${encodeURIComponent(number)}`);
    const act = async (call) => {
      clear(msg);
      try {
        await call();
      } catch (e) {
        msg.append(note(errorText(e), 'error'));
      }
      await show();
    };
    body.replaceChildren(
      h(
        'section',
        { class: 'card', dataset: { section: 'complaint', complaint: c.number, state: c.state } },
        h('h2', {}, `${c.number} · ${summaryText(c)}`),
        facts(c),
        h('h3', {}, t('ts.tipster')),
        tipsterBlock(c, ctx),
        h('h3', {}, t('ts.details')),
        c.details ? h('pre', { class: 'ts-details' }, c.details) : note(c.anonymous ? t('ts.hidden') : '–'),
        h('h3', {}, t('ts.links')),
        linkList(c, ctx, act),
        msg,
        ctx.can('complaints.record') && c.state !== 'closed'
          ? h('div', { class: 'ts-forms' }, staffForms(c, act))
          : null,
        h('h3', {}, t('ts.history')),
        h(
          'ol',
          { class: 'ts-steps' },
          c.steps.map((s) =>
            h('li', {}, `${fmtTime(s.at)} · ${actorName(s.by)} · ${t(`ts.step.${s.action}`)}${stepNote(s)}`),
          ),
        ),
      ),
    );
  };
  main.append(h('p', {}, h('a', { href: '#/complaints' }, `← ${t('ts.back')}`)), body);
  await show().catch((e) => body.append(note(errorText(e), 'error')));
}

export const complaintsPage = {
  id: 'complaints',
  get nav() {
    return 'ts.nav';
  },
  allowed: (can) => can('complaints.view') || can('complaints.linked'),
  async render(main, params, ctx) {
    if (params[0]) return detail(main, params[0], ctx);
    const linkedOnly = !ctx.can('complaints.view');
    const list = listSection(ctx, linkedOnly);
    main.append(
      h('h1', {}, t(linkedOnly ? 'ts.linked.title' : 'ts.title')),
      ...(ctx.can('complaints.record') ? [intakeForm(list.load)] : []),
      list.el,
    );
  },
};
