/* global document */
import { h } from './dom.js';
import { getLang } from './i18n.js';

/**
 * Date, date-and-time and file inputs in the page's language. The browser draws its own pickers
 * (`<input type=date>`, `month`, `datetime-local`, `file`) in the browser's language whatever the page's
 * `lang` says: an English Chromium shows "mm/dd/yyyy" and "Choose File / No file chosen" on a
 * Chinese page, and writes the date in its own order. These are text inputs that take the same
 * values the pages already read (YYYY-MM-DD, YYYY-MM-DDTHH:MM or with a space; fromLocalInput
 * reads both), with a placeholder in the page's language, and a file button in its words.
 */

const W = {
  zh: {
    date: '年-月-日，如 2026-12-01',
    month: '年-月，如 2026-12',
    dateTime: '年-月-日 时:分，如 2026-12-01 08:30',
    choose: '选择文件',
    none: '未选择文件',
  },
  en: {
    date: 'YYYY-MM-DD, e.g. 2026-12-01',
    month: 'YYYY-MM, e.g. 2026-12',
    dateTime: 'YYYY-MM-DD HH:MM, e.g. 2026-12-01 08:30',
    choose: 'Choose a file',
    none: 'No file chosen',
  },
};

const word = (key) => W[getLang()]?.[key] ?? W.en[key];
const pageLang = () => document.documentElement.lang || getLang();

/** A text input for a day, month or time as typed, with its pattern and placeholder in the page's words. */
function typedPicker(kind, pattern, attrs) {
  return h('input', {
    ...attrs,
    type: 'text',
    inputmode: kind === 'dateTime' ? undefined : 'numeric',
    autocomplete: 'off',
    pattern,
    placeholder: word(kind),
    title: word(kind),
    lang: pageLang(),
    dataset: { picker: kind, ...(attrs?.dataset ?? {}) },
  });
}

/** A day: YYYY-MM-DD. `attrs` as for any input (name, required, value). */
export const dateInput = (attrs) => typedPicker('date', '\\d{4}-\\d{2}-\\d{2}', attrs);

/** A month: YYYY-MM. */
export const monthInput = (attrs) => typedPicker('month', '\\d{4}-\\d{2}', attrs);

/** A wall-clock time in the campus zone: YYYY-MM-DD HH:MM (a T between them as well). */
export const dateTimeInput = (attrs) =>
  typedPicker('dateTime', '\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}', attrs);

/**
 * A file input whose visible part is in the page's words: the browser's own control is kept (it is
 * what opens the file dialog, and what `files` is read from) but drawn invisibly over a button and
 * the chosen file's name. Returns the input (to read `files` from) and the element to show.
 */
export function filePicker(attrs) {
  const name = h('span', { class: 'muted', dataset: { fileName: '' } }, word('none'));
  const input = h('input', { ...attrs, type: 'file', class: 'file-native', lang: pageLang() });
  input.addEventListener('change', () => {
    name.textContent = input.files?.[0]?.name ?? word('none');
  });
  const element = h(
    'span',
    { class: 'file-picker', dataset: { picker: 'file' } },
    input,
    h('span', { class: 'button', 'aria-hidden': 'true' }, word('choose')),
    ' ',
    name,
  );
  return { input, element };
}
