import { get, post } from './api.js';
import { clear, fmtTime, h, note, table } from './dom.js';
import { t } from './i18n.js';
import { errorText, list as wordList, word } from './words-render.js';

/**
 * Dorm power: the lights-out schedules and the power limits of the campus file, where each stands
 * (approved, awaiting approval, not approved: then it does nothing), the coming nights, the rooms
 * held open and why, and the latest trips. Whoever may request relay operations proposes the
 * version the file holds now; a supervisor other than the proposer approves or rejects it.
 */

const STATUS = {
  approved: 'sched.status.approved',
  'awaiting-approval': 'sched.status.awaiting',
  'not-approved': 'sched.status.not',
};

function statusBadge(status) {
  return h('span', { class: `badge state-${status === 'approved' ? 'done' : 'pending'}` }, t(STATUS[status]));
}

/** Propose / approve / reject controls for one subject (a schedule or the limits). */
function decisionControls(ctx, item, proposeUrl, reload) {
  const msg = h('span', { 'aria-live': 'polite' });
  const reason = h('input', { maxlength: 500, placeholder: t('col.reason'), 'aria-label': t('col.reason') });
  const act = (fn) => async () => {
    clear(msg);
    try {
      await fn();
      await reload();
    } catch (err) {
      msg.append(note(errorText(err), 'error'));
    }
  };
  const buttons = [];
  if (item.status === 'not-approved' && ctx.can('relay.request'))
    buttons.push(
      h(
        'button',
        {
          type: 'button',
          dataset: { action: 'propose' },
          onclick: act(() => {
            if (!reason.value.trim()) throw new Error(t('sched.reason.needed'));
            return post(proposeUrl, { reason: reason.value.trim() });
          }),
        },
        t('sched.propose'),
      ),
    );
  const p = item.proposal;
  if (item.status === 'awaiting-approval' && p && ctx.can('relay.policy-approval')) {
    if (p.proposedBy !== ctx.actor.id)
      buttons.push(
        h(
          'button',
          {
            type: 'button',
            class: 'primary',
            dataset: { action: 'approve' },
            onclick: act(() => post(`/api/policy-proposals/${p.id}/approve`, {})),
          },
          t('sched.approve'),
        ),
      );
    buttons.push(
      h(
        'button',
        {
          type: 'button',
          class: 'danger',
          dataset: { action: 'reject' },
          onclick: act(() => {
            if (!reason.value.trim()) throw new Error(t('sched.reason.needed'));
            return post(`/api/policy-proposals/${p.id}/reject`, { reason: reason.value.trim() });
          }),
        },
        t('sched.reject'),
      ),
    );
  }
  if (buttons.length === 0) return msg;
  return h('span', { class: 'controls' }, reason, ...buttons, msg);
}

function who(item) {
  const p = item.proposal;
  if (!p) return '';
  const proposed = t('sched.proposed.by', { who: p.proposedBy, at: fmtTime(p.proposedAt) });
  return p.decidedBy ? `${proposed} · ${t('sched.approved.by', { who: p.decidedBy })}` : proposed;
}

/**
 * Why a schedule leaves a meter alone, as services/operations/schedules/targets.ts writes it (three
 * fixed forms), in the reader's words; another form is shown as it is.
 */
function skippedWhy(why) {
  if (why === 'not in the campus') return t('sched.skip.unknown');
  if (why === 'no relay') return t('sched.skip.norelay');
  const m = /^circuit (\S+) is not switched by this schedule$/.exec(why);
  return m ? t('sched.skip.circuit', { circuit: word('circuit', m[1]) }) : why;
}

function scheduleCard(ctx, s, reload) {
  const sc = s.schedule;
  const nights = s.upcoming.map((n) => `${n.night}: ${fmtTime(n.off)} → ${fmtTime(n.on)}`);
  return h(
    'section',
    { class: 'card', dataset: { schedule: s.id } },
    h('h2', {}, `${s.name ?? s.id} `, statusBadge(s.status)),
    h('p', { class: 'hint' }, t('sched.version', { sha: s.sha256.slice(0, 12) }), ' ', who(s)),
    h(
      'p',
      {},
      t('sched.window', { off: sc.off, on: sc.on, days: wordList(sc.days.map((d) => word('weekday', d))) }),
      ' · ',
      t('sched.circuits', { circuits: wordList(sc.circuits.map((c) => word('circuit', c))) }),
    ),
    sc.holidays.length ? h('p', {}, t('sched.holidays', { days: sc.holidays.join(', ') })) : null,
    sc.terms.length
      ? h('p', {}, t('sched.terms', { terms: sc.terms.map((x) => `${x.from} – ${x.to}`).join('; ') }))
      : null,
    h('p', {}, t('sched.now', { want: t(s.phase.want === 'open' ? 'sched.off' : 'sched.on') })),
    h('p', {}, t('sched.meters', { n: s.meters.length }), ' ', s.meters.join(', ')),
    s.skipped.length
      ? h(
          'p',
          { class: 'hint' },
          t('sched.skipped'),
          ' ',
          s.skipped.map((k) => `${k.meter} (${skippedWhy(k.why)})`).join('; '),
        )
      : null,
    nights.length
      ? h(
          'details',
          {},
          h('summary', {}, t('sched.upcoming')),
          h(
            'ul',
            {},
            nights.map((n) => h('li', {}, n)),
          ),
        )
      : null,
    decisionControls(ctx, s, `/api/schedules/${encodeURIComponent(s.id)}/proposals`, reload),
  );
}

function limitsCard(ctx, l, reload) {
  const rows = [
    ...Object.entries(l.limits.byCustomerType).map(([type, x]) => ({ who: type, ...x })),
    ...Object.entries(l.limits.meters).map(([meter, x]) => ({ who: meter, ...x })),
  ];
  return h(
    'section',
    { class: 'card', dataset: { section: 'power-limits' } },
    h('h2', {}, `${t('sched.limits')} `, statusBadge(l.status)),
    h('p', { class: 'hint' }, t('sched.version', { sha: l.sha256.slice(0, 12) }), ' ', who(l)),
    rows.length
      ? table(rows, [
          ['sched.limit.who', (r) => r.who],
          ['sched.limit.kw', (r) => `${r.kw} kW`],
          ['sched.limit.over', (r) => `${r.overFor / 1000} s`],
          ['sched.limit.restore', (r) => `${r.restoreAfter / 60_000} min`],
          ['sched.limit.max', (r) => String(r.maxAutoRestoresPerDay)],
        ])
      : note(t('sched.limits.none')),
    decisionControls(ctx, l, '/api/power-limits/proposals', reload),
    h('h3', {}, t('sched.trips')),
    l.trips.length
      ? table(l.trips, [
          ['col.meter', (x) => x.meter],
          ['sched.trip.cause', (x) => x.cause],
          ['sched.trip.at', (x) => fmtTime(x.trippedAt)],
          ['sched.trip.state', (x) => t(`sched.trip.${x.state}`)],
        ])
      : note(t('sched.trips.none')),
  );
}

export const schedulesPage = {
  id: 'schedules',
  nav: 'nav.schedules',
  allowed: (can) => can('relay.request'),
  async render(main, _params, ctx) {
    const box = h('div', {});
    const load = async () => {
      const [schedules, limits, holds] = await Promise.all([
        get('/api/schedules'),
        get('/api/power-limits'),
        get('/api/relay-holds'),
      ]);
      clear(box).append(
        ...(schedules.length ? schedules.map((s) => scheduleCard(ctx, s, load)) : [note(t('sched.none'))]),
        limitsCard(ctx, limits, load),
        h(
          'section',
          { class: 'card', dataset: { section: 'holds' } },
          h('h2', {}, t('sched.holds')),
          h('p', { class: 'hint' }, t('sched.holds.hint')),
          holds.length
            ? table(holds, [
                ['col.meter', (x) => x.meter],
                ['sched.hold', (x) => x.hold],
                ['sched.hold.since', (x) => fmtTime(x.since)],
              ])
            : note(t('sched.holds.none')),
        ),
      );
    };
    main.append(h('h1', {}, t('sched.title')), h('p', { class: 'hint' }, t('sched.hint')), box);
    await load();
  },
};
