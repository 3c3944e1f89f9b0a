import { get, post } from './api.js';
import { clear, field, fmtFen, h, note, parseYuan, table } from './dom.js';
import { dateInput } from './inputs.js';
import { errorText, hw } from './words-heating.js';

/**
 * The heating desk's units and seasons: each unit's certified area (or contract) in force, a new
 * certificate or contract recorded from a day (never an overwrite), and for billing the season's
 * price per m² and its fees computed once into a bill run that post-paid collection publishes.
 */

const CONTRACT_TYPES = ['business', 'external'];
const TYPES = ['staff-household', 'business', 'external', 'fully-recovered-unit', 'public'];

/** "82.5" or "82.50" m² → 8 250 hundredths, or null. */
function parseArea(text) {
  const m = /^\s*(\d{1,7})(?:\.(\d{1,2}))?\s*$/.exec(text);
  return m ? Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0')) : null;
}
const area = (centi) => `${Math.floor(centi / 100)}.${String(centi % 100).padStart(2, '0')} m²`;

function unitForm(reload) {
  const inputs = {
    unit: h('input', { name: 'unit', required: true }),
    account: h('input', { name: 'account', required: true }),
    holder: h('input', { name: 'holder', required: true }),
    customerType: h(
      'select',
      { name: 'customerType' },
      TYPES.map((t) => h('option', { value: t }, hw(`type.${t}`))),
    ),
    payrollCode: h('input', { name: 'payrollCode' }),
    validFrom: dateInput({ name: 'validFrom', required: true }),
    area: h('input', { name: 'area', inputmode: 'decimal' }),
    certificate: h('input', { name: 'certificate' }),
    contract: h('input', { name: 'contract' }),
    season: h('input', { name: 'seasonYuan', inputmode: 'decimal' }),
    reason: h('input', { name: 'reason', required: true }),
  };
  const out = h('div', { 'aria-live': 'polite' });
  const submit = async (ev) => {
    ev.preventDefault();
    clear(out);
    const v = (k) => inputs[k].value.trim();
    const byContract = CONTRACT_TYPES.includes(v('customerType'));
    const body = {
      ...{ unit: v('unit'), account: v('account'), holder: v('holder'), customerType: v('customerType') },
      ...(v('payrollCode') ? { payrollCode: v('payrollCode') } : {}),
      ...{ validFrom: v('validFrom'), reason: v('reason') },
      ...(byContract
        ? { contract: v('contract'), seasonFen: parseYuan(v('seasonYuan')) }
        : { areaCentiM2: parseArea(v('area')), certificate: v('certificate') }),
    };
    try {
      await post('/api/heating/units', body);
      out.append(note(hw('recorded') + body.unit, 'ok'));
      await reload();
    } catch (e) {
      out.append(note(errorText(e), 'error'));
    }
  };
  return h(
    'form',
    { dataset: { form: 'heating-unit' }, onsubmit: submit },
    ...Object.entries(inputs).map(([k, input]) => field(hw(`u.${k}`), input)),
    h('button', { type: 'submit' }, hw('submit')),
    out,
  );
}

function seasonForm(reload) {
  const id = h('input', { name: 'season', required: true, placeholder: '2026-2027' });
  const first = dateInput({ name: 'firstDay', required: true });
  const last = dateInput({ name: 'lastDay', required: true });
  const price = h('input', { name: 'price', inputmode: 'decimal', required: true });
  const out = h('div', { 'aria-live': 'polite' });
  const submit = async (ev) => {
    ev.preventDefault();
    clear(out);
    try {
      await post('/api/heating/seasons', {
        ...{ id: id.value.trim(), firstDay: first.value, lastDay: last.value },
        pricePerM2Fen: parseYuan(price.value),
      });
      await reload();
    } catch (e) {
      out.append(note(errorText(e), 'error'));
    }
  };
  return h(
    'form',
    { dataset: { form: 'heating-season' }, onsubmit: submit },
    field(hw('season'), id),
    field(hw('startDay'), first),
    field(hw('lastDay'), last),
    field(hw('pricePerM2'), price),
    h('button', { type: 'submit' }, hw('submit')),
    out,
  );
}

/** The units in force and the seasons, with the forms the role may use. */
export function unitsCard(can) {
  const box = h('div', {});
  const msg = h('div', { 'aria-live': 'polite' });
  const load = async () => {
    clear(box);
    const [units, seasons] = await Promise.all([get('/api/heating/units'), get('/api/heating/seasons')]);
    const bill = (s) =>
      h(
        'button',
        {
          type: 'button',
          dataset: { action: 'bill' },
          onclick: async () => {
            clear(msg);
            try {
              const run = await post(`/api/heating/seasons/${s.id}/bill`);
              msg.append(note(`${run.id}: ${fmtFen(run.totalFen)}`, 'ok'));
            } catch (e) {
              msg.append(note(errorText(e), 'error'));
            }
          },
        },
        hw('bill'),
      );
    box.append(
      units.length === 0
        ? note(hw('none'))
        : table(
            units,
            [
              [hw('unit'), (u) => u.unit],
              [hw('u.account'), (u) => u.account],
              [hw('u.holder'), (u) => u.holder],
              [
                hw('basis'),
                (u) =>
                  u.basis.kind === 'area'
                    ? `${area(u.basis.areaCentiM2)} · ${u.basis.certificate}`
                    : `${u.basis.contract} · ${fmtFen(u.basis.seasonFen)}`,
              ],
              [hw('u.validFrom'), (u) => u.validFromDay],
              [hw('recordedBy'), (u) => u.recordedBy],
            ],
            (u) => ({ dataset: { heatingUnit: u.unit } }),
          ),
      h('h2', {}, hw('seasons')),
      seasons.length === 0
        ? note(hw('none'))
        : table(
            seasons,
            [
              [hw('season'), (s) => s.id],
              [hw('firstDay'), (s) => `${s.firstDay} – ${s.lastDay}`],
              [hw('pricePerM2'), (s) => fmtFen(s.pricePerM2Fen)],
              ['', (s) => (can('heating.fees') ? bill(s) : '')],
            ],
            (s) => ({ dataset: { season: s.id } }),
          ),
    );
  };
  load().catch((e) => box.append(note(errorText(e), 'error')));
  return h(
    'section',
    { class: 'card', dataset: { section: 'heating-units' } },
    h('h2', {}, hw('units')),
    msg,
    box,
    ...(can('heating.units') ? [h('h3', {}, hw('certify')), unitForm(load)] : []),
    ...(can('heating.fees') ? [h('h3', {}, hw('defineSeason')), seasonForm(load)] : []),
  );
}
