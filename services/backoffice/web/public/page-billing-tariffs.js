import { get, post } from './api.js';
import { clear, field, fmtTime, h, note, table } from './dom.js';
import { dateInput } from './inputs.js';
import { t } from './i18n.js';
import { actorName, errorText, list as wordList, unitText, word } from './words-render.js';

/**
 * The tariffs on the billing page: the version in force, the proposals with what each would
 * change, a form for billing to propose one new tariff version, and approve / reject for a
 * supervisor. The server enforces every rule (two independent people, no change to prices already
 * in force); the page only hides buttons a user could not use.
 */

/** A component as the schema has it: one price, or tiers with their upper limits. */
function componentText(c) {
  const name = word('component', c.name);
  if (c.price !== undefined) return `${name} ${c.price}`;
  return `${name} ${c.tiers.map((x) => (x.upTo === undefined ? x.price : `${x.price}≤${x.upTo}`)).join(' / ')}`;
}

/**
 * One line of a proposal's changes as services/money/billing/tariff-store.ts `tariffChanges` writes
 * it ("electricity/student-room from 2027-01-01: added"), in the reader's words; a line of
 * another form is shown as it is.
 */
function changeText(line) {
  const m = /^([a-z]+)\/([a-z-]+) from (\d{4}-\d{2}-\d{2}): (added|removed|changed)$/.exec(line);
  if (!m) return line;
  return t(`tariffs.change.${m[4]}`, {
    utility: word('utility', m[1]),
    type: word('ctype', m[2]),
    from: m[3],
  });
}

/**
 * Components typed one a line: "name, price" or tiers "name, price/upTo, price/upTo, price" (the
 * last block has no limit). Prices stay decimal strings: the server reads them to integers.
 * Returns the components, or the number of the first line that is not one.
 */
export function parseComponents(text) {
  const out = [];
  const lines = text.split('\n').map((l) => l.trim());
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]) continue;
    const [name, ...prices] = lines[i].split(/\s*[,，]\s*/);
    if (!name || prices.length === 0 || prices.some((p) => !p)) return { badLine: i + 1 };
    if (prices.length === 1 && !prices[0].includes('/')) {
      out.push({ name, price: prices[0] });
      continue;
    }
    const tiers = prices.map((p, j) => {
      const [price, upTo] = p.split('/');
      return j === prices.length - 1 && upTo === undefined ? { price } : { price, upTo: Number(upTo) };
    });
    out.push({ name, tiers });
  }
  return out.length ? { components: out } : { badLine: 1 };
}

function proposeForm(reload) {
  const message = h('div', { 'aria-live': 'polite' });
  const utility = h(
    'select',
    { name: 'utility' },
    ...['electricity', 'water', 'heat'].map((u) => h('option', { value: u }, word('utility', u))),
  );
  const unit = h(
    'select',
    { name: 'unit' },
    ...['kWh', 'm3'].map((u) => h('option', { value: u }, unitText(u))),
  );
  const types = h('input', {
    name: 'customerTypes',
    required: true,
    placeholder: 'student-room, staff-household',
  });
  const from = dateInput({ name: 'effectiveFrom', required: true });
  const components = h('textarea', {
    name: 'components',
    required: true,
    rows: 3,
    placeholder: 'energy, 0.588',
  });
  const reason = h('input', { name: 'reason', required: true, placeholder: t('tariffs.reason.placeholder') });
  return h(
    'form',
    {
      class: 'inline-form',
      dataset: { form: 'tariff-propose', action: 'tariff-propose' },
      onsubmit: async (e) => {
        e.preventDefault();
        clear(message);
        const parsed = parseComponents(components.value);
        if (!parsed.components) {
          message.append(note(t('tariffs.bad.line', { line: parsed.badLine }), 'error'));
          return;
        }
        const tariff = {
          utility: utility.value,
          customerTypes: types.value
            .split(/\s*[,，]\s*/)
            .map((x) => x.trim())
            .filter(Boolean),
          effectiveFrom: from.value,
          unit: unit.value,
          components: parsed.components,
        };
        try {
          const p = await post('/api/tariffs/proposals', { tariff, reason: reason.value.trim() });
          message.append(note(t('tariffs.proposed', { id: p.id }), 'ok'));
          await reload();
        } catch (err) {
          message.append(note(errorText(err), 'error'));
        }
      },
    },
    h('h3', {}, t('tariffs.propose')),
    field('tariffs.utility', utility),
    field('tariffs.customer.types', types),
    field('tariffs.effective.from', from),
    field('tariffs.unit', unit),
    field('tariffs.components', components),
    field('tariffs.reason', reason),
    h('button', { type: 'submit', class: 'primary' }, t('tariffs.propose.submit')),
    message,
  );
}

/** Approve / reject buttons for a pending proposal; the proposer may only withdraw it. */
function decide(p, ctx, reload, message) {
  if (p.status !== 'pending') return p.decidedBy ? `${actorName(p.decidedBy)} · ${fmtTime(p.decidedAt)}` : '';
  const mine = p.requestedBy === ctx.actor.id;
  if (!mine && !ctx.can('tariffs.approve')) return '';
  const reason = h('input', { name: 'reason', placeholder: t('tariffs.reason') });
  const act = (verb, body) => async () => {
    clear(message);
    try {
      await post(`/api/tariffs/proposals/${p.id}/${verb}`, body());
      message.append(note(t('done'), 'ok'));
      await reload();
    } catch (err) {
      message.append(note(errorText(err), 'error'));
    }
  };
  return h(
    'span',
    {},
    mine
      ? ''
      : h(
          'button',
          { type: 'button', dataset: { action: 'approve' }, onclick: act('approve', () => ({})) },
          t('tariffs.approve'),
        ),
    reason,
    h(
      'button',
      {
        type: 'button',
        dataset: { action: 'reject' },
        onclick: act('reject', () => ({ reason: reason.value.trim() })),
      },
      t(mine ? 'tariffs.withdraw' : 'tariffs.reject'),
    ),
  );
}

export async function tariffsSection(main, ctx) {
  const inForce = h('div', {});
  const proposals = h('div', {});
  const message = h('div', { 'aria-live': 'polite' });
  const load = async () => {
    const [v, list] = await Promise.all([get('/api/tariffs'), get('/api/tariffs/proposals')]);
    clear(inForce).append(
      h(
        'p',
        { dataset: { version: String(v.version) } },
        t('tariffs.in.force', {
          version: v.version,
          by: actorName(v.requestedBy),
          approver: actorName(v.approvedBy),
          at: fmtTime(v.approvedAt),
        }),
      ),
      table(v.table.tariffs, [
        ['tariffs.utility', (x) => word('utility', x.utility)],
        ['tariffs.customer.types', (x) => wordList(x.customerTypes.map((c) => word('ctype', c)))],
        ['tariffs.effective.from', (x) => x.effectiveFrom],
        [
          'tariffs.components',
          (x) =>
            `${x.components.map(componentText).join('; ')} ${t('tariffs.per.unit', { unit: unitText(x.unit) })}`,
        ],
      ]),
    );
    clear(proposals).append(
      list.length
        ? table(
            list,
            [
              ['col.seq', (p) => `#${p.id}`],
              ['col.by', (p) => `${actorName(p.requestedBy)} · ${fmtTime(p.requestedAt)}`],
              ['tariffs.reason', (p) => p.reason],
              ['tariffs.changes', (p) => p.changes.map(changeText).join('; ')],
              ['tariffs.status', (p) => t(`tariffs.status.${p.status}`)],
              ['tariffs.decision', (p) => decide(p, ctx, load, message)],
            ],
            (p) => ({ dataset: { proposal: p.id, status: p.status } }),
          )
        : note(t('none')),
    );
  };
  main.append(
    h(
      'section',
      { class: 'card', dataset: { section: 'tariffs' } },
      h('h2', {}, t('tariffs.title')),
      inForce,
      h('h3', {}, t('tariffs.proposals')),
      message,
      proposals,
      ctx.can('tariffs.edit') ? proposeForm(load) : '',
    ),
  );
  await load();
}
