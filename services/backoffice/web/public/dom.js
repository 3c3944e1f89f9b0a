/* global document, Node, MutationObserver, requestAnimationFrame */
import { getLang, t } from './i18n.js';

/**
 * Small DOM helpers. Text always goes in as text nodes (never innerHTML), so data from the server
 * (a holder's name, an audit reason) can never become markup.
 */

/** Creates an element: attributes (`on*` functions become listeners, `class`, `dataset`), then children. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let zone;

/** The campus time zone every time is shown in (IANA). */
export function setTimeZone(tz) {
  zone = tz || undefined;
}

export function timeZone() {
  return zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
}

function locale() {
  return getLang() === 'zh' ? 'zh-CN' : 'en-GB';
}

/** A UTC-ms time in the campus zone, e.g. 2026-11-30 14:05:09. */
export function fmtTime(ts) {
  if (ts === null || ts === undefined) return '–';
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: timeZone(),
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(ts));
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

/** A UTC-ms time as a `datetime-local` input value in the campus zone: 2026-11-30T14:05. */
export function toLocalInput(ts) {
  return fmtTime(ts).slice(0, 16).replace(' ', 'T');
}

/** Today in the campus zone, as YYYY-MM-DD. */
export function localToday() {
  return fmtTime(Date.now()).slice(0, 10);
}

/**
 * A wall-clock time in the campus zone (`2026-11-30T14:05` or `2026-11-30`) → UTC ms, or null
 * if it is not one. Twice round the zone's offset, so a time next to a DST change lands right.
 */
export function fromLocalInput(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(String(text).trim());
  if (!m) return null;
  const [y, mo, d, hh, mm, ss] = m.slice(1).map((v) => Number(v ?? 0));
  const wall = Date.UTC(y, mo - 1, d, hh, mm, ss);
  if (Number.isNaN(wall)) return null;
  const wallOf = (ts) => {
    const [date, time] = fmtTime(ts).split(' ');
    const [a, b, c] = date.split('-').map(Number);
    const [e, f, g] = time.split(':').map(Number);
    return Date.UTC(a, b - 1, c, e, f, g);
  };
  let ts = wall - (wallOf(wall) - wall);
  ts = wall - (wallOf(ts) - ts);
  return ts;
}

/** A number with at most `digits` decimals, in the current language's grouping. */
export function fmtNum(n, digits = 2) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(
    n,
  );
}

/** Integer fen as yuan, exactly (no floating point): -1234 → "-¥12.34". */
export function fmtFen(fen) {
  if (fen === null || fen === undefined) return '–';
  const n = BigInt(fen);
  const neg = n < 0n;
  const abs = neg ? -n : n;
  return `${neg ? '-' : ''}¥${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/** "12.34" or "12" (yuan as typed) → integer fen, or null if it is not an amount. */
export function parseYuan(text) {
  const m = /^\s*(\d{1,7})(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

/**
 * A table: `columns` are [header key, cell function]; a row gets `rowAttrs(item)` (data-* for
 * tests and styling). Wrapped so that it scrolls sideways on a phone instead of the page.
 */
export function table(items, columns, rowAttrs) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map(([key]) => h('th', { scope: 'col' }, t(key))),
        ),
      ),
      h(
        'tbody',
        {},
        items.map((item) =>
          h(
            'tr',
            rowAttrs ? rowAttrs(item) : {},
            columns.map(([, cell]) => h('td', {}, cell(item))),
          ),
        ),
      ),
    ),
  );
}

/** A message line: `kind` is 'info', 'ok' or 'error'. */
export function note(text, kind = 'info') {
  return h('p', { class: `note note-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

/** A labelled form field. */
export function field(labelKey, input) {
  return h('label', { class: 'field' }, h('span', {}, t(labelKey)), input);
}

/**
 * Gives every body cell of every table under `root` a data-label naming its column (the header
 * cell's text, colspans counted), so that on a phone, where styles.css stacks a table's rows into
 * cards, each value still says what it is. Generic on purpose: it runs on whatever a page drew, so
 * no page has to remember it; cells that already carry a label (the live table's) keep their own.
 */
export function labelTableCells(root) {
  for (const tbl of root.querySelectorAll('table')) {
    const head = tbl.tHead?.rows[tbl.tHead.rows.length - 1];
    if (!head) continue;
    const names = [];
    for (const th of head.cells) {
      for (let i = 0; i < th.colSpan; i++) names.push(th.textContent.trim());
    }
    for (const body of tbl.tBodies) {
      for (const row of body.rows) {
        let col = 0;
        for (const cell of row.cells) {
          const name = names[col];
          if (name && !cell.hasAttribute('data-label')) cell.dataset.label = name;
          col += cell.colSpan;
        }
      }
    }
  }
}

/**
 * Keeps labelTableCells applied to `root` as pages draw and redraw (lists refresh, SSE updates),
 * batched to one pass per frame. Returns the observer, to stop it.
 */
export function watchTableLabels(root) {
  let queued = false;
  const observer = new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      labelTableCells(root);
    });
  });
  observer.observe(root, { childList: true, subtree: true });
  labelTableCells(root);
  return observer;
}
