import { get, post, qs } from './api.js';
import { clear, field, fmtNum, fmtTime, fromLocalInput, h, note, table, toLocalInput } from './dom.js';
import { dateTimeInput } from './inputs.js';
import { getLang, t } from './i18n.js';
import { localSource, pagedList } from './list.js';

/**
 * Manual meter readings (DOMAIN.md "Readings and billing" 1). A reader enters their own reading of
 * a meter of a round they were drawn for, under their own login; their open rounds are listed
 * (GET /api/readings/my-rounds) and clicking a meter fills the form. A
 * supervisor has the system draw the two readers of a round; who may view readings looks a round
 * up; supervisors and inspectors see the mismatch alerts. A reader is never shown the other
 * reader's figure: the two readings are meant to be independent.
 */

function enterSection(main, params, ctx) {
  const round = h('input', {
    name: 'round',
    inputmode: 'numeric',
    pattern: '[1-9][0-9]*',
    required: true,
    value: params[0] ?? '',
  });
  const meter = h('input', { name: 'meter', required: true, maxlength: 64, autocomplete: 'off' });
  const value = h('input', { name: 'value', inputmode: 'decimal', required: true, autocomplete: 'off' });
  const readAt = dateTimeInput({
    name: 'readAt',
    required: true,
    value: toLocalInput(Date.now()),
  });
  const message = h('div', { 'aria-live': 'polite' });
  const mine = h('div', {});
  ctx.cache.myReadings ??= [];
  const drawMine = () =>
    clear(mine).append(
      ctx.cache.myReadings.length
        ? table(
            ctx.cache.myReadings,
            [
              ['readings.round', (r) => `#${r.round}`],
              ['col.meter', (r) => r.meter],
              ['readings.value', (r) => fmtNum(r.value, 3)],
              ['readings.read.at', (r) => fmtTime(r.readAt)],
              ['readings.entered.at', (r) => fmtTime(r.enteredAt)],
            ],
            (r) => ({ dataset: { reading: `${r.round}:${r.meter}` } }),
          )
        : note(t('readings.none.entered')),
    );
  main.append(
    h(
      'form',
      {
        class: 'card inline-form',
        dataset: { form: 'manual-reading' },
        onsubmit: async (e) => {
          e.preventDefault();
          clear(message);
          try {
            const id = round.value.trim();
            if (!/^[1-9][0-9]*$/.test(id)) throw new Error(t('readings.round'));
            const v = Number(value.value.trim().replace(',', '.'));
            if (value.value.trim() === '' || !Number.isFinite(v) || v < 0)
              throw new Error(t('readings.value'));
            const at = fromLocalInput(readAt.value);
            if (at === null) throw new Error(t('readings.read.at'));
            const { reading } = await post(`/api/readings/rounds/${id}/readings`, {
              meter: meter.value.trim(),
              value: v,
              readAt: at,
            });
            ctx.cache.myReadings.unshift(reading);
            message.append(
              note(t('readings.recorded', { meter: reading.meter, round: reading.round }), 'ok'),
            );
            meter.value = '';
            value.value = '';
            drawMine();
            meter.focus();
          } catch (err) {
            message.append(note(t('error', { message: err.message }), 'error'));
          }
        },
      },
      h('h2', {}, t('readings.enter')),
      h('p', { class: 'hint' }, t('readings.enter.hint')),
      field('readings.round', round),
      field('col.meter', meter),
      field('readings.value', value),
      field('readings.read.at', readAt),
      h(
        'button',
        { type: 'submit', class: 'primary', dataset: { action: 'enter-reading' } },
        t('readings.submit'),
      ),
      message,
    ),
    h('section', { class: 'card', dataset: { section: 'mine' } }, h('h2', {}, t('readings.mine')), mine),
  );
  drawMine();
  void myRounds(main, { round, meter, value });
}

/** The reader's open rounds, each meter a button that fills the entry form. */
async function myRounds(main, form) {
  const section = h(
    'section',
    { class: 'card', dataset: { section: 'my-rounds' } },
    h('h2', {}, t('readings.my.rounds')),
  );
  main.insertBefore(section, main.children[1] ?? null);
  let rounds;
  try {
    rounds = await get('/api/readings/my-rounds');
  } catch (err) {
    section.append(note(t('error', { message: err.message }), 'error'));
    return;
  }
  if (rounds.length === 0) {
    section.append(note(t('readings.my.rounds.none')));
    return;
  }
  for (const { round, meters } of rounds) {
    section.append(
      h('p', {}, `#${round.id} · ${round.route} · ${fmtTime(round.dueAt)}`),
      h(
        'div',
        { class: 'actions' },
        ...meters.map((m) =>
          h(
            'button',
            {
              type: 'button',
              class: m.entered ? '' : 'primary',
              dataset: { fill: `${round.id}:${m.meter}` },
              onclick: () => {
                form.round.value = String(round.id);
                form.meter.value = m.meter;
                form.value.focus();
              },
            },
            `${m.meter}${m.entered ? ' ✓' : ''}`,
          ),
        ),
      ),
    );
  }
}

function drawSection(main, ctx) {
  const routeId = h('input', { name: 'route', required: true, maxlength: 64, autocomplete: 'off' });
  const due = dateTimeInput({
    name: 'dueAt',
    required: true,
    value: toLocalInput(Date.now() + 86_400_000),
  });
  const pool = h('textarea', {
    name: 'pool',
    rows: 2,
    required: true,
    placeholder: t('readings.pool.placeholder'),
  });
  const message = h('div', { 'aria-live': 'polite' });
  main.append(
    h(
      'form',
      {
        class: 'card inline-form',
        dataset: { form: 'draw-round' },
        onsubmit: async (e) => {
          e.preventDefault();
          clear(message);
          try {
            const dueAt = fromLocalInput(due.value);
            if (dueAt === null) throw new Error(t('readings.due'));
            const r = await post('/api/readings/rounds', {
              route: routeId.value.trim(),
              dueAt,
              pool: pool.value
                .split(/[\s,;，、]+/)
                .map((p) => p.trim())
                .filter(Boolean),
            });
            message.append(
              h(
                'div',
                { class: 'note note-ok', role: 'status', dataset: { round: r.id } },
                t('readings.drawn', { id: r.id, readers: r.readers.join(', ') }),
                ' · ',
                t(`readings.rotation.${r.rotation}`),
                ctx.can('readings.view')
                  ? [' · ', h('a', { href: `#/readings/${r.id}` }, t('readings.open.round'))]
                  : null,
              ),
            );
          } catch (err) {
            message.append(note(t('error', { message: err.message }), 'error'));
          }
        },
      },
      h('h2', {}, t('readings.draw')),
      h('p', { class: 'hint' }, t('readings.draw.hint')),
      field('readings.route', routeId),
      field('readings.due', due),
      field('readings.pool', pool),
      h(
        'button',
        { type: 'submit', class: 'primary', dataset: { action: 'draw-round' } },
        t('readings.draw.submit'),
      ),
      message,
    ),
  );
}

async function roundSection(main, params, ctx) {
  const input = h('input', {
    name: 'round-id',
    inputmode: 'numeric',
    value: params[0] ?? '',
    'aria-label': t('readings.round'),
  });
  const box = h('div', {});
  main.append(
    h(
      'section',
      { class: 'card', dataset: { section: 'round' } },
      h(
        'form',
        {
          class: 'inline-form',
          dataset: { form: 'round-lookup' },
          onsubmit: (e) => {
            e.preventDefault();
            const id = input.value.trim();
            if (/^[1-9][0-9]*$/.test(id)) ctx.navigate(`#/readings/${id}`);
          },
        },
        h('h2', {}, t('readings.lookup')),
        field('readings.round', input),
        h('button', { type: 'submit' }, t('readings.show')),
      ),
      box,
    ),
  );
  if (!params[0]) return;
  try {
    const r = await get(`/api/readings/rounds/${encodeURIComponent(params[0])}`);
    box.append(
      h(
        'dl',
        { class: 'facts', dataset: { roundId: r.id } },
        h('dt', {}, t('readings.route')),
        h('dd', {}, r.route),
        h('dt', {}, t('readings.due')),
        h('dd', {}, fmtTime(r.dueAt)),
        h('dt', {}, t('readings.readers')),
        h('dd', { dataset: { field: 'readers' } }, r.readers.join(', ')),
        h('dt', {}, t('readings.rotation')),
        h('dd', {}, t(`readings.rotation.${r.rotation}`)),
        h('dt', {}, t('readings.drawn.at')),
        h('dd', {}, fmtTime(r.drawnAt)),
      ),
      r.readings.length
        ? table(
            r.readings,
            [
              ['col.meter', (x) => x.meter],
              ['readings.reader', (x) => x.reader],
              ['readings.value', (x) => fmtNum(x.value, 3)],
              ['readings.automatic', (x) => (x.automatic === null ? '–' : fmtNum(x.automatic, 3))],
              ['readings.read.at', (x) => fmtTime(x.readAt)],
              ['readings.entered.at', (x) => fmtTime(x.enteredAt)],
            ],
            (x) => ({ dataset: { reading: `${x.meter}:${x.reader}` } }),
          )
        : note(t('readings.none.yet')),
    );
  } catch (err) {
    box.append(note(t('error', { message: err.message }), 'error'));
  }
}

const WORDS = {
  zh: {
    search: '按表号、路线、轮次、抄表员或原因搜索',
    empty: '没有抄表差异：两名抄表员的读数与自动读数一致时不会产生记录。',
  },
  en: {
    search: 'Search by meter, route, round, reader or reason',
    empty: 'No reading mismatches: a round where both readers and the automatic reading agree leaves none.',
  },
};
const w = (key) => (WORDS[getLang()] ?? WORDS.en)[key];

async function alertsSection(main) {
  const box = h('div', {});
  main.append(
    h(
      'section',
      { class: 'card', dataset: { section: 'mismatches' } },
      h('h2', {}, t('readings.alerts')),
      box,
    ),
  );
  // Newest first; searched and paged here (a page of 100), all of them, not only the latest.
  const alerts = (await get(`/api/readings/alerts${qs({})}`)).slice().reverse();
  const list = pagedList({
    name: 'mismatches',
    placeholder: w('search'),
    empty: w('empty'),
    fetchPage: localSource(alerts, (a) =>
      [
        `#${a.id}`,
        a.meter,
        a.route,
        `#${a.round}`,
        a.reason,
        ...a.evidence.readings.map((r) => r.reader),
      ].join(' '),
    ),
    columns: [
      ['col.seq', (a) => `#${a.id}`],
      ['col.time', (a) => fmtTime(a.createdAt)],
      ['col.kind', (a) => t(`readings.kind.${a.kind}`)],
      ['readings.round', (a) => `#${a.round} · ${a.route}`],
      ['col.meter', (a) => h('a', { href: `#/meter/${encodeURIComponent(a.meter)}` }, a.meter)],
      [
        'readings.evidence',
        (a) => [
          a.evidence.readings.map((r) => `${r.reader}: ${fmtNum(r.value, 3)}`).join(' · '),
          a.evidence.automatic === null
            ? ''
            : ` · ${t('readings.automatic')}: ${fmtNum(a.evidence.automatic, 3)}`,
          ` · Δ ${fmtNum(a.evidence.difference, 3)} (${t('readings.allowed')} ${fmtNum(a.evidence.allowed, 3)})`,
        ],
      ],
      ['col.reason', (a) => a.reason],
    ],
    rowAttrs: (a) => ({ dataset: { mismatch: a.id, kind: a.kind, meter: a.meter } }),
  });
  box.append(list.el);
}

export const readingsPage = {
  id: 'readings',
  nav: 'nav.readings',
  allowed: (can) => can('readings.enter-manual') || can('readings.assign') || can('alerts.view'),
  async render(main, params, ctx) {
    main.append(h('h1', {}, t('readings.title')));
    if (ctx.can('readings.enter-manual')) enterSection(main, params, ctx);
    if (ctx.can('readings.assign')) drawSection(main, ctx);
    const parts = [];
    if (ctx.can('readings.view')) parts.push(roundSection(main, params, ctx));
    if (ctx.can('alerts.view')) parts.push(alertsSection(main));
    await Promise.all(parts);
  },
};
