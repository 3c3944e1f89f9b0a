import { h } from './dom.js';
import { t } from './i18n.js';

/**
 * A table that becomes cards under 600 px (styles.css, `.lv-table`): each cell carries its
 * column's name (`data-label`), shown before the value on a phone, and the first column is the
 * card's title, so the key column is never scrolled off-screen. `columns` are [header key, cell
 * function]; `rowAttrs(item)` gives a row's attributes (data-* for tests and styling).
 */
export function cardTable(items, columns, rowAttrs) {
  return h(
    'table',
    { class: 'lv-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map(([key]) => h('th', { scope: 'col' }, key ? t(key) : '')),
      ),
    ),
    h(
      'tbody',
      {},
      items.map((item) =>
        h(
          'tr',
          rowAttrs ? rowAttrs(item) : {},
          columns.map(([key, cell], i) =>
            h('td', { class: i === 0 ? 'key' : '', dataset: key ? { label: t(key) } : {} }, cell(item)),
          ),
        ),
      ),
    ),
  );
}
