import { getLang, t } from './i18n.js';

/**
 * Turning the server's codes into the reader's words: a code with a translation shows the
 * translation; one without (a name a clerk typed) shows as it is. Error answers are explained from
 * their code (`err.<CODE>`), with the server's English message only where no words exist and only
 * in English; a Chinese reader gets the code's general words instead.
 */

/** The words for `prefix.code`, or the code itself when there are none. */
export function word(prefix, code) {
  if (code === null || code === undefined || code === '') return '';
  const key = `${prefix}.${code}`;
  const w = t(key);
  return w === key ? String(code) : w;
}

/** A list in the reader's language: 、 between Chinese words, a comma between English ones. */
export function list(items) {
  return items
    .filter((x) => x !== '' && x !== null && x !== undefined)
    .join(getLang() === 'zh' ? '、' : ', ');
}

/** Who acted: a user's name as it is, `system:<service>` as "System", `token:<name>` as an API token. */
export function actorName(id) {
  if (!id) return '';
  if (id.startsWith('system:')) return t('actor.system');
  if (id.startsWith('token:')) return t('actor.token', { name: id.slice(6) });
  return id;
}

/**
 * A display name as shown: the first administrator's default name (users.ts bootstrapAdmin,
 * users-cli) is the system's English word, not a person's name, so it is shown in the reader's words.
 */
export function personName(name) {
  return name === 'Administrator' ? t('role.admin') : name;
}

/** Units as printed: the tariff table's `m3` is m³. */
export function unitText(unit) {
  return unit === 'm3' ? 'm³' : unit;
}

/** What went wrong, from an error's code; see the module comment. */
export function errorText(err) {
  const key = `err.${err?.code}`;
  const w = err?.code ? t(key) : key;
  if (w !== key) return w;
  if (getLang() === 'en' || !err?.code) return t('error', { message: err?.message ?? String(err) });
  return t('err.unknown');
}
