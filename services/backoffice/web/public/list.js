/* global setTimeout, clearTimeout */
import { clear, fmtNum, h, note, table } from './dom.js';
import { getLang } from './i18n.js';

/**
 * Long lists, built once for every page: a search box, one page of rows at a time (never more
 * than 200 on screen), first/previous/next/last, what is shown of how many, and loading and
 * empty states that say what to do. Where the list can be large the server searches and pages
 * (`fetchPage` calls an API with q/offset/limit); a list the page already holds pages here with
 * `localSource`. Its strings live here, in both languages.
 */

const S = {
  zh: {
    search: '搜索',
    loading: '正在加载……',
    showing: '第 {from}–{to} 条，共 {total} 条',
    first: '首页',
    prev: '上一页',
    next: '下一页',
    last: '末页',
    noMatch: '没有与“{q}”匹配的结果：请减少或更换关键词。',
    failed: '加载失败：{message}',
  },
  en: {
    search: 'Search',
    loading: 'Loading…',
    showing: '{from}–{to} of {total}',
    first: 'First',
    prev: 'Previous',
    next: 'Next',
    last: 'Last',
    noMatch: 'Nothing matches "{q}": try fewer or other words.',
    failed: 'Could not load: {message}',
  },
};

const s = (key, vars) =>
  (S[getLang()]?.[key] ?? S.en[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String(vars?.[k] ?? ''));

/** The most rows a page shows (issue 15: lists over 200 rows are paged). */
export const MAX_PAGE = 200;

/**
 * Paging and search over an array the page holds: every word of the search must occur in
 * `text(item)` (case-insensitive).
 */
export function localSource(items, text) {
  const lower = items.map((it) => [it, String(text(it)).toLowerCase()]);
  return async ({ q, offset, limit }) => {
    const words = q.toLowerCase().split(/\s+/).filter(Boolean);
    const hits = lower.filter(([, t]) => words.every((w) => t.includes(w))).map(([it]) => it);
    return { total: hits.length, items: hits.slice(offset, offset + limit) };
  };
}

/**
 * A searchable, paged list. `fetchPage({ q, offset, limit })` resolves to `{ total, items }`;
 * `columns` and `rowAttrs` are as for dom.js's `table`; `empty` is the text shown when there is
 * nothing at all (say what to do or when something will appear), `placeholder` what one can
 * search by. Returns `{ el, reload }`.
 */
export function pagedList({
  name,
  fetchPage,
  columns,
  rowAttrs,
  empty,
  placeholder,
  pageSize = 100,
  q = '',
}) {
  const limit = Math.min(pageSize, MAX_PAGE);
  const state = { q, offset: 0, total: 0 };
  const input = h('input', {
    type: 'search',
    name: `${name}-search`,
    value: q,
    placeholder: placeholder ?? s('search'),
    'aria-label': placeholder ?? s('search'),
  });
  const status = h('span', { class: 'list-status', 'aria-live': 'polite' });
  const body = h('div', { class: 'list-body' });
  const button = (key, go) => h('button', { type: 'button', dataset: { page: key }, onclick: go }, s(key));
  const pager = h(
    'div',
    { class: 'list-pager' },
    button('first', () => show(0)),
    button('prev', () => show(state.offset - limit)),
    status,
    button('next', () => show(state.offset + limit)),
    button('last', () => show(Math.floor(Math.max(state.total - 1, 0) / limit) * limit)),
  );
  let asked = 0;
  async function show(offset) {
    const ticket = ++asked;
    const at = Math.max(0, offset);
    clear(body).append(note(s('loading')));
    let page;
    try {
      page = await fetchPage({ q: state.q.trim(), offset: at, limit });
    } catch (e) {
      if (ticket === asked) clear(body).append(note(s('failed', { message: e.message }), 'error'));
      return;
    }
    // A slower answer to an earlier search must not replace a newer one.
    if (ticket !== asked) return;
    Object.assign(state, { offset: at, total: page.total });
    clear(body);
    if (page.total === 0) body.append(note(state.q.trim() ? s('noMatch', { q: state.q.trim() }) : empty));
    else body.append(table(page.items, columns, rowAttrs));
    status.textContent =
      page.total === 0
        ? ''
        : s('showing', {
            from: fmtNum(at + 1, 0),
            to: fmtNum(at + page.items.length, 0),
            total: fmtNum(page.total, 0),
          });
    for (const b of pager.querySelectorAll('button')) {
      const back = b.dataset.page === 'first' || b.dataset.page === 'prev';
      b.disabled = back ? at === 0 : at + limit >= page.total;
    }
    pager.hidden = page.total <= limit;
  }
  let due;
  input.addEventListener('input', () => {
    clearTimeout(due);
    due = setTimeout(() => {
      state.q = input.value;
      void show(0);
    }, 250);
  });
  const el = h(
    'div',
    { class: 'paged-list', dataset: { list: name, section: `list-${name}` } },
    h('div', { class: 'list-search' }, input),
    body,
    pager,
  );
  void show(0);
  return { el, reload: () => show(state.offset) };
}
