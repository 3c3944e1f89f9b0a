/* global window */
import { get, post } from './api.js';
import {
  clear,
  field,
  fmtFen,
  fmtTime,
  fromLocalInput,
  h,
  localToday,
  note,
  table,
  toLocalInput,
} from './dom.js';
import { dateInput, dateTimeInput } from './inputs.js';
import { t } from './i18n.js';
import { lineOperationControls } from './line-controls.js';

/**
 * End of a shift. Clerks (and operators) print their handover report: every ledger entry they
 * recorded in a local day, with totals by payment method and entry type, checked by the server
 * against the ledger and audited when printed; a supervisor prints anyone's. Duty operators
 * record the line cuts and restores done in the power room, which a second operator or a
 * supervisor confirms, and hand the shift over with a note and a snapshot of what is still open.
 */

const METHODS = ['cash', 'card', 'transfer'];
const TYPES = ['topup', 'free-quota', 'debit', 'refund', 'meter-reset', 'correction'];

function reportView(r) {
  const totalsRow = (key, label, x) => ({ key, label, count: x.count, fen: x.fen });
  const byMethod = METHODS.map((m) => totalsRow(m, t(`method.${m}`), r.byMethod[m]));
  const byType = TYPES.filter((k) => r.byType[k]?.count).map((k) =>
    totalsRow(k, t(`entry.${k}`), r.byType[k]),
  );
  const totals = (rows, attr) =>
    table(
      rows,
      [
        ['', (x) => x.label],
        ['handover.count', (x) => String(x.count)],
        ['col.amount', (x) => h('span', { class: x.fen < 0 ? 'neg' : '' }, fmtFen(x.fen))],
      ],
      (x) => ({ dataset: { [attr]: x.key, count: x.count, fen: x.fen } }),
    );
  return h(
    'section',
    { class: 'card report', dataset: { section: 'report', clerk: r.clerk } },
    h(
      'div',
      { class: 'page-head' },
      h('h2', {}, t('handover.report.title', { clerk: r.clerk })),
      h(
        'button',
        { type: 'button', class: 'no-print', dataset: { action: 'print' }, onclick: () => window.print() },
        t('handover.print.paper'),
      ),
    ),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, t('handover.range')),
      h('dd', {}, `${fmtTime(r.from)} – ${fmtTime(r.to)}`),
      h('dt', {}, t('handover.printed')),
      h('dd', {}, `${r.printedBy} · ${fmtTime(r.printedAt)}`),
      h('dt', {}, t('handover.net')),
      h('dd', { dataset: { field: 'net' } }, fmtFen(r.netFen)),
      h('dt', {}, t('handover.cash.net')),
      h('dd', { class: 'strong', dataset: { field: 'cash-net' } }, fmtFen(r.cashNetFen)),
    ),
    h(
      'div',
      { class: 'totals' },
      h(
        'div',
        { dataset: { totals: 'method' } },
        h('h3', {}, t('handover.by.method')),
        totals(byMethod, 'method'),
      ),
      h(
        'div',
        { dataset: { totals: 'type' } },
        h('h3', {}, t('handover.by.type')),
        byType.length ? totals(byType, 'type') : note(t('none')),
      ),
    ),
    h('h3', {}, t('handover.entries', { count: r.entries.length })),
    r.entries.length
      ? table(
          r.entries,
          [
            ['col.time', (e) => fmtTime(e.at)],
            ['col.account', (e) => e.accountId],
            ['col.kind', (e) => t(`entry.${e.type}`)],
            ['prepaid.method', (e) => (e.method ? t(`method.${e.method}`) : '')],
            ['handover.reference', (e) => e.reference ?? e.reason ?? ''],
            ['col.by', (e) => (e.approvedBy ? `${e.recordedBy} / ${e.approvedBy}` : e.recordedBy)],
            ['col.amount', (e) => h('span', { class: e.amountFen < 0 ? 'neg' : 'pos' }, fmtFen(e.amountFen))],
          ],
          (e) => ({ dataset: { entry: e.id, type: e.type } }),
        )
      : note(t('handover.no.entries')),
    h(
      'p',
      { class: 'signatures' },
      h('span', {}, t('handover.sign.handing')),
      h('span', {}, t('handover.sign.taking')),
    ),
  );
}

function reportSection(main, ctx) {
  const date = dateInput({ name: 'date', required: true, value: localToday() });
  const supervisor = ctx.actor.roles.includes('supervisor');
  const clerk = supervisor ? h('input', { name: 'clerk', maxlength: 64, value: ctx.actor.id }) : null;
  const message = h('div', { 'aria-live': 'polite' });
  const out = h('div', {});
  main.append(
    h(
      'form',
      {
        class: 'card inline-form no-print',
        dataset: { form: 'handover-report' },
        onsubmit: async (e) => {
          e.preventDefault();
          clear(message);
          try {
            const report = await post('/api/handover-reports', {
              date: date.value,
              ...(clerk && clerk.value.trim() ? { clerk: clerk.value.trim() } : {}),
            });
            clear(out).append(reportView(report));
          } catch (err) {
            message.append(note(t('error', { message: err.message }), 'error'));
          }
        },
      },
      h('h2', {}, t('handover.report')),
      h('p', { class: 'hint' }, t('handover.report.hint')),
      field('handover.date', date),
      clerk ? field('handover.clerk', clerk) : null,
      h(
        'button',
        { type: 'submit', class: 'primary', dataset: { action: 'handover-report' } },
        t('handover.print'),
      ),
      message,
    ),
    out,
  );
}

function lineState(op) {
  const cls = { unconfirmed: 'state-pending', confirmed: 'state-done', disputed: 'state-rejected' }[op.state];
  return h('span', { class: `badge ${cls}`, dataset: { state: op.state } }, t(`lines.state.${op.state}`));
}

function lineControls(op, ctx, done) {
  if (op.state !== 'unconfirmed' || !ctx.can('lines.confirm') || op.recordedBy === ctx.actor.id) return null;
  return lineOperationControls(op, { label: t('col.notes'), done });
}

/** The line operations of this session: recorded here, looked up, or open at a handover. */
function linesSection(main, ctx) {
  ctx.cache.lineOps ??= new Map();
  const ops = ctx.cache.lineOps;
  const listBox = h('div', {});
  const message = h('div', { 'aria-live': 'polite' });
  const draw = () => {
    const list = [...ops.values()].sort((a, b) => b.id - a.id);
    clear(listBox).append(
      list.length
        ? table(
            list,
            [
              ['col.seq', (op) => `#${op.id}`],
              ['lines.line', (op) => op.line],
              ['col.action', (op) => t(`lines.${op.action}`)],
              ['col.reason', (op) => op.reason],
              ['lines.at', (op) => fmtTime(op.at)],
              ['lines.recorded.by', (op) => `${op.recordedBy} · ${fmtTime(op.recordedAt)}`],
              ['col.state', (op) => lineState(op)],
              [
                'lines.confirmed.by',
                (op) => (op.confirmedBy ? [op.confirmedBy, op.note ? ` · ${op.note}` : ''] : ''),
              ],
              ['', (op) => lineControls(op, ctx, keep)],
            ],
            (op) => ({ dataset: { lineOp: op.id, state: op.state } }),
          )
        : note(t('lines.none')),
    );
  };
  const keep = (op) => {
    ops.set(op.id, op);
    draw();
  };
  const lookUp = async (id) => {
    keep(await get(`/api/line-operations/${id}`));
  };

  const forms = [];
  if (ctx.can('lines.record')) {
    const line = h('input', { name: 'line', required: true, maxlength: 64, autocomplete: 'off' });
    const action = h(
      'select',
      { name: 'action' },
      h('option', { value: 'cut' }, t('lines.cut')),
      h('option', { value: 'restore' }, t('lines.restore')),
    );
    const reason = h('input', { name: 'reason', required: true, maxlength: 500 });
    const at = dateTimeInput({
      name: 'at',
      required: true,
      value: toLocalInput(Date.now()),
    });
    forms.push(
      h(
        'form',
        {
          class: 'inline-form',
          dataset: { form: 'line-operation' },
          onsubmit: async (e) => {
            e.preventDefault();
            clear(message);
            try {
              const when = fromLocalInput(at.value);
              if (when === null) throw new Error(t('lines.at'));
              const op = await post('/api/line-operations', {
                line: line.value.trim(),
                action: action.value,
                reason: reason.value.trim(),
                at: when,
              });
              keep(op);
              message.append(note(t('lines.recorded', { id: op.id }), 'ok'));
              line.value = '';
              reason.value = '';
            } catch (err) {
              message.append(note(t('error', { message: err.message }), 'error'));
            }
          },
        },
        h('h3', {}, t('lines.record')),
        field('lines.line', line),
        field('col.action', action),
        field('col.reason', reason),
        field('lines.at', at),
        h(
          'button',
          { type: 'submit', class: 'primary', dataset: { action: 'record-line' } },
          t('lines.submit'),
        ),
      ),
    );
  }
  if (ctx.can('lines.confirm')) {
    const id = h('input', {
      name: 'line-op-id',
      inputmode: 'numeric',
      required: true,
      pattern: '[1-9][0-9]*',
    });
    forms.push(
      h(
        'form',
        {
          class: 'inline-form',
          dataset: { form: 'line-lookup' },
          onsubmit: async (e) => {
            e.preventDefault();
            clear(message);
            try {
              await lookUp(Number(id.value.trim()));
              id.value = '';
            } catch (err) {
              message.append(note(t('error', { message: err.message }), 'error'));
            }
          },
        },
        h('h3', {}, t('lines.lookup')),
        field('lines.id', id),
        h('button', { type: 'submit' }, t('readings.show')),
      ),
    );
  }
  main.append(
    h(
      'section',
      { class: 'card no-print', dataset: { section: 'lines' } },
      h('h2', {}, t('lines.title')),
      h('p', { class: 'hint' }, t('lines.hint')),
      forms,
      message,
      listBox,
    ),
  );
  draw();
  return {
    lookUp: (n) =>
      lookUp(n).catch((err) => message.append(note(t('error', { message: err.message }), 'error'))),
  };
}

function shiftSection(main, ctx, lines) {
  const to = h('input', { name: 'to', required: true, maxlength: 64, autocomplete: 'off' });
  const notes = h('textarea', { name: 'notes', required: true, rows: 3, maxlength: 500 });
  const message = h('div', { 'aria-live': 'polite' });
  main.append(
    h(
      'form',
      {
        class: 'card inline-form no-print',
        dataset: { form: 'shift-handover' },
        onsubmit: async (e) => {
          e.preventDefault();
          clear(message);
          try {
            const ho = await post('/api/shift-handovers', { to: to.value.trim(), notes: notes.value.trim() });
            const open = ho.open;
            message.append(
              h(
                'div',
                { class: 'note note-ok', role: 'status', dataset: { handover: ho.id } },
                h('p', {}, t('shift.done', { id: ho.id, to: ho.to, at: fmtTime(ho.at) })),
                h(
                  'p',
                  { dataset: { open: 'requests' } },
                  t('shift.open.requests'),
                  ' ',
                  open.requests.length
                    ? open.requests.map((id, i) => [
                        i ? ', ' : '',
                        ctx.can('relay.request') ? h('a', { href: '#/relay' }, `#${id}`) : `#${id}`,
                      ])
                    : t('none'),
                ),
                h(
                  'p',
                  { dataset: { open: 'line-operations' } },
                  t('shift.open.lines'),
                  ' ',
                  open.lineOperations.length
                    ? open.lineOperations.map((id, i) => [
                        i ? ', ' : '',
                        lines && ctx.can('lines.confirm')
                          ? h(
                              'button',
                              { type: 'button', class: 'link', onclick: () => void lines.lookUp(id) },
                              `#${id}`,
                            )
                          : `#${id}`,
                      ])
                    : t('none'),
                ),
              ),
            );
            notes.value = '';
          } catch (err) {
            message.append(note(t('error', { message: err.message }), 'error'));
          }
        },
      },
      h('h2', {}, t('shift.title')),
      h('p', { class: 'hint' }, t('shift.hint')),
      field('shift.to', to),
      field('shift.notes', notes),
      h(
        'button',
        { type: 'submit', class: 'primary', dataset: { action: 'shift-handover' } },
        t('shift.submit'),
      ),
      message,
    ),
  );
}

export const handoverPage = {
  id: 'handover',
  nav: 'nav.handover',
  allowed: (can) => can('handover.report') || can('lines.record') || can('lines.confirm'),
  render(main, _params, ctx) {
    main.append(h('h1', { class: 'no-print' }, t('handover.title')));
    if (ctx.can('handover.report')) reportSection(main, ctx);
    const lines = ctx.can('lines.record') || ctx.can('lines.confirm') ? linesSection(main, ctx) : null;
    if (ctx.can('handover.report')) shiftSection(main, ctx, lines);
  },
};
