import { get, post, qs } from './api.js';
import { clear, field, fmtTime, h, note, table } from './dom.js';
import { t } from './i18n.js';

/**
 * The tamper-evident audit log: search it (who did what to which subject), and walk the hash
 * chain on the server to show whether it is whole.
 */

function summary(value) {
  if (value === null || value === undefined) return '';
  const s = JSON.stringify(value);
  return s.length > 160 ? `${s.slice(0, 157)}…` : s;
}

export const auditPage = {
  id: 'audit',
  nav: 'nav.audit',
  allowed: (can) => can('audit.view') || can('audit.verify'),
  async render(main, _params, ctx, query) {
    main.append(h('h1', {}, t('audit.title')));
    if (ctx.can('audit.verify')) {
      const result = h('div', { 'aria-live': 'polite', dataset: { result: 'verify' } });
      main.append(
        h(
          'section',
          { class: 'card' },
          h(
            'button',
            {
              type: 'button',
              class: 'primary',
              dataset: { action: 'verify' },
              onclick: async () => {
                clear(result).append(note(t('loading')));
                try {
                  const r = await post('/api/audit/verify');
                  const detail = r.chain.ok
                    ? [...r.missingTriggers, ...r.tables.map((x) => JSON.stringify(x))].join('; ')
                    : `${r.chain.firstBroken.seq}: ${r.chain.firstBroken.problem}`;
                  clear(result).append(
                    r.ok
                      ? note(
                          t('audit.verify.ok', { entries: r.chain.entries, seq: r.chain.head?.seq ?? 0 }),
                          'ok',
                        )
                      : note(t('audit.verify.bad', { detail }), 'error'),
                  );
                } catch (err) {
                  clear(result).append(note(t('error', { message: err.message }), 'error'));
                }
              },
            },
            t('audit.verify'),
          ),
          result,
        ),
      );
    }
    if (!ctx.can('audit.view')) return;
    const subject = h('input', { name: 'subject', value: query.get('subject') ?? '' });
    const actor = h('input', { name: 'actor', value: query.get('actor') ?? '' });
    const action = h('input', { name: 'action', value: query.get('action') ?? '' });
    const box = h('div', {});
    const load = async () => {
      const entries = await get(
        `/api/audit${qs({
          subject: subject.value.trim(),
          actor: actor.value.trim(),
          action: action.value.trim(),
          newestFirst: 'true',
          limit: 200,
        })}`,
      );
      clear(box).append(
        entries.length
          ? table(
              entries,
              [
                ['col.seq', (e) => String(e.seq)],
                ['col.time', (e) => fmtTime(e.at)],
                ['col.actor', (e) => e.actor],
                ['col.action', (e) => e.action],
                ['col.subject', (e) => e.subject],
                ['col.reason', (e) => e.reason ?? ''],
                ['col.notes', (e) => h('code', {}, summary(e.after))],
              ],
              (e) => ({ dataset: { seq: e.seq, action: e.action } }),
            )
          : note(t('none')),
      );
    };
    main.append(
      h(
        'section',
        { class: 'card' },
        h(
          'form',
          {
            class: 'inline-form',
            dataset: { form: 'audit-search' },
            onsubmit: async (e) => {
              e.preventDefault();
              try {
                await load();
              } catch (err) {
                clear(box).append(note(t('error', { message: err.message }), 'error'));
              }
            },
          },
          field('audit.subject', subject),
          field('audit.actor', actor),
          field('audit.action', action),
          h('button', { type: 'submit' }, t('audit.search')),
        ),
        box,
      ),
    );
    await load();
  },
};
