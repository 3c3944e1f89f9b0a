/* global URLSearchParams, document */
import { get, post, qs } from './api.js';
import { clear, field, fmtFen, fmtNum, fmtTime, fromLocalInput, h, note, table } from './dom.js';
import { dateInput } from './inputs.js';
import { getLang, t } from './i18n.js';
import { KNOWN_FIELDS } from './words-audit.js';
import { actorName, errorText, list as wordList, personName, word } from './words-render.js';

/**
 * The tamper-evident audit log, readable: who did what, on what, why, with amounts in yuan and
 * times in the campus zone; filtered and paged by the server (GET /api/audit/entries), 50 entries
 * a page, so a long log is never sent whole. Whoever may not read the whole log (no audit.view)
 * sees the entries of their own actions: the server decides, the page only says so. The chain
 * check walks the whole chain on the server and shows its result here.
 */

const PAGE = 50;

/** An action key in words: the whole key's words, else its object and verb, else "other". */
export function actionText(action) {
  const whole = `audit.act.${action}`;
  if (t(whole) !== whole) return t(whole);
  const parts = action.split('.');
  const objectKey = `audit.obj.${parts[0]}`;
  const verbKey = `audit.verb.${parts[parts.length - 1]}`;
  const object = t(objectKey);
  const verb = t(verbKey);
  if (object !== objectKey && verb !== verbKey) return t('audit.act.generic', { object, verb });
  if (object !== objectKey) return object;
  return t('audit.act.other');
}

/**
 * A subject (`account:E1-101`, `relay-request:42`) as its kind in words and its id. A subject of
 * an unknown kind shows its id alone under "other" so no internal key reaches the reader.
 */
export function subjectText(subject) {
  const i = subject.indexOf(':');
  if (i < 0) return word('audit.subj', subject);
  const kind = subject.slice(0, i);
  const id = subject.slice(i + 1);
  const key = `audit.subj.${kind}`;
  const w = t(key);
  const shownId = /^\d+$/.test(id) ? `#${id}` : id;
  return w === key ? shownId : `${w} ${shownId}`;
}

/** A field's value for the summary: money in yuan, roles and customer types in words. */
function valueText(key, v) {
  if (v === null || v === undefined) return null;
  if (key.endsWith('Fen') && Number.isInteger(v)) return fmtFen(v);
  if (key === 'kwh' && typeof v === 'number') return fmtNum(v, 3);
  if (key === 'roles' && Array.isArray(v)) return wordList(v.map((r) => word('role', r)));
  if (key === 'customerType') return word('ctype', v);
  if (key === 'method') return word('method', v);
  if (key === 'severity') return word('sev', v);
  if (key === 'displayName') return personName(v);
  if (Array.isArray(v)) return v.every((x) => typeof x === 'string') ? v.join(', ') : null;
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  return null;
}

/** The fields of before/after the page knows how to say, "before → after" where both exist. */
export function summaryText(e) {
  const isObj = (x) => x && typeof x === 'object' && !Array.isArray(x);
  // Fields one level down count too: a ledger entry's audit keeps the entry under `entry`.
  const obj = (x) =>
    isObj(x)
      ? Object.assign(
          {},
          ...Object.values(x).filter(isObj),
          Object.fromEntries(Object.entries(x).filter(([, v]) => !isObj(v))),
        )
      : {};
  const before = obj(e.before);
  const after = obj(e.after);
  const out = [];
  for (const key of KNOWN_FIELDS) {
    const b = valueText(key, before[key]);
    const a = valueText(key, after[key]);
    if (a === null && b === null) continue;
    const label = t(`audit.field.${key}`);
    out.push(b !== null && a !== null && b !== a ? `${label} ${b} → ${a}` : `${label} ${a ?? b}`);
  }
  return out.join(' · ');
}

/**
 * Why: what the person typed. A reason the system wrote (actor `system:…`) is English prose, so a
 * Chinese reader finds it in the entry as recorded instead of in the column.
 */
function reasonText(e) {
  if (!e.reason) return '';
  if (e.actor.startsWith('system:') && getLang() !== 'en') return '';
  return e.reason;
}

function rawDetails(e) {
  return h(
    'details',
    { class: 'audit-raw' },
    h('summary', {}, t('audit.raw')),
    h(
      'pre',
      {},
      JSON.stringify(
        {
          seq: e.seq,
          action: e.action,
          subject: e.subject,
          reason: e.reason,
          before: e.before,
          after: e.after,
        },
        null,
        1,
      ),
    ),
  );
}

function verifySection() {
  const result = h('div', { 'aria-live': 'polite', dataset: { result: 'verify' } });
  const run = async () => {
    clear(result).append(note(t('loading')));
    try {
      const r = await post('/api/audit/verify');
      const at = fmtTime(Date.now());
      if (!r.chain.ok) {
        const { seq, problem } = r.chain.firstBroken;
        clear(result).append(
          note(
            t('audit.verify.bad', { seq, detail: getLang() === 'en' ? problem : t('audit.verify.broken') }),
            'error',
          ),
        );
        return;
      }
      const problems = [
        r.missingTriggers.length ? t('audit.verify.triggers') : '',
        r.tables.length ? t('audit.verify.users') : '',
      ].filter(Boolean);
      clear(result).append(
        problems.length
          ? note(t('audit.verify.tables', { detail: wordList(problems) }), 'error')
          : note(t('audit.verify.ok', { entries: r.chain.entries, seq: r.chain.head?.seq ?? 0, at }), 'ok'),
      );
    } catch (err) {
      clear(result).append(note(errorText(err), 'error'));
    }
  };
  return h(
    'section',
    { class: 'card', dataset: { section: 'verify' } },
    h(
      'button',
      { type: 'button', class: 'primary', dataset: { action: 'verify' }, onclick: run },
      t('audit.verify'),
    ),
    result,
  );
}

/** YYYY-MM-DD plus one day, as text (calendar arithmetic, no time zone involved). */
function nextDay(date) {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

/** The filters as the URL has them → the API's query (dates become UTC ms in the campus zone). */
function apiQuery(query) {
  const from = query.get('from') ? fromLocalInput(query.get('from')) : null;
  const to = query.get('to') ? fromLocalInput(nextDay(query.get('to'))) : null;
  return {
    actor: query.get('actor') || undefined,
    action: query.get('action') || undefined,
    subject: query.get('subject') || undefined,
    from: from ?? undefined,
    to: to ?? undefined,
    maxSeq: query.get('maxSeq') || undefined,
    offset: query.get('offset') || undefined,
    limit: PAGE,
  };
}

function filterForm(query, actions, ownOnly, ctx) {
  const actor = h('input', { name: 'actor', value: query.get('actor') ?? '', disabled: ownOnly });
  const action = h(
    'select',
    { name: 'action' },
    h('option', { value: '' }, t('audit.action.any')),
    [...actions]
      .map((a) => [a, actionText(a)])
      .sort((x, y) => x[1].localeCompare(y[1], getLang() === 'zh' ? 'zh-CN' : 'en'))
      .map(([a, text]) => h('option', { value: a, selected: a === query.get('action'), title: a }, text)),
  );
  const subject = h('input', {
    name: 'subject',
    value: query.get('subject') ?? '',
    placeholder: 'account:E1-101',
  });
  const from = dateInput({ name: 'from', value: query.get('from') ?? '' });
  const to = dateInput({ name: 'to', value: query.get('to') ?? '' });
  const message = h('span', { class: 'field-error', 'aria-live': 'polite' });
  return h(
    'form',
    {
      class: 'inline-form',
      dataset: { form: 'audit-search' },
      onsubmit: (e) => {
        e.preventDefault();
        clear(message);
        for (const d of [from, to])
          if (d.value && fromLocalInput(d.value) === null) {
            message.append(t('audit.bad.date'));
            d.focus();
            return;
          }
        const next = new URLSearchParams();
        const set = (k, v) => v && next.set(k, v.trim());
        if (!ownOnly) set('actor', actor.value);
        set('action', action.value);
        set('subject', subject.value);
        set('from', from.value);
        set('to', to.value);
        ctx.navigate(`#/audit${[...next].length ? `?${next}` : ''}`);
      },
    },
    ownOnly ? null : field('audit.actor', actor),
    field('audit.action', action),
    field('audit.subject', subject),
    field('audit.from', from),
    field('audit.to', to),
    h('button', { type: 'submit' }, t('audit.search')),
    message,
  );
}

function pager(page, query, ctx) {
  const go = (offset) => {
    const next = new URLSearchParams(query);
    next.set('offset', String(offset));
    next.set('maxSeq', String(page.maxSeq));
    ctx.navigate(`#/audit?${next}`);
  };
  const end = page.offset + page.entries.length;
  return h(
    'p',
    { class: 'pager', dataset: { pager: 'audit' } },
    h(
      'button',
      {
        type: 'button',
        dataset: { action: 'newer' },
        disabled: page.offset === 0,
        onclick: () => go(Math.max(0, page.offset - page.limit)),
      },
      t('audit.newer'),
    ),
    ' ',
    h(
      'span',
      { dataset: { total: page.total } },
      t('audit.page', { from: page.offset + 1, to: end, total: page.total }),
    ),
    ' ',
    h(
      'button',
      { type: 'button', dataset: { action: 'older' }, disabled: end >= page.total, onclick: () => go(end) },
      t('audit.older'),
    ),
  );
}

export const auditPage = {
  id: 'audit',
  nav: 'nav.audit',
  // Everyone may check the chain and read the entries of their own actions.
  allowed: () => true,
  async render(main, _params, ctx, query) {
    // Its own stylesheet, a file (the app's CSP allows no inline styles).
    if (!document.getElementById('audit-style'))
      document.head.append(h('link', { id: 'audit-style', rel: 'stylesheet', href: '/app/audit.css' }));
    main.append(h('h1', {}, t('audit.title')));
    if (ctx.can('audit.verify')) main.append(verifySection());
    const [page, actions] = await Promise.all([
      get(`/api/audit/entries${qs(apiQuery(query))}`),
      get('/api/audit/actions'),
    ]);
    main.append(
      h(
        'section',
        { class: 'card', dataset: { section: 'entries' } },
        page.ownOnly ? note(t('audit.own.only')) : null,
        filterForm(query, actions, page.ownOnly, ctx),
        page.entries.length
          ? [
              pager(page, query, ctx),
              h(
                'div',
                { class: 'audit-list' },
                table(
                  page.entries,
                  [
                    ['col.time', (e) => fmtTime(e.at)],
                    ['col.actor', (e) => h('span', { title: e.actor }, actorName(e.actor))],
                    ['audit.what', (e) => h('span', { title: e.action }, actionText(e.action))],
                    ['audit.on', (e) => h('span', { title: e.subject }, subjectText(e.subject))],
                    ['col.reason', reasonText],
                    ['audit.amounts', (e) => [summaryText(e), ' ', rawDetails(e)]],
                  ],
                  (e) => ({ dataset: { seq: e.seq, action: e.action, actor: e.actor } }),
                ),
              ),
              pager(page, query, ctx),
            ]
          : note(t('audit.page.none')),
      ),
    );
  },
};
