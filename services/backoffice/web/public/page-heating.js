import { get, post } from './api.js';
import { clear, field, fmtFen, fmtNum, fmtTime, h, note, parseYuan, table } from './dom.js';
import { electricCard } from './page-heating-electric.js';
import { unitsCard } from './page-heating-units.js';
import { errorText, hw } from './words-heating.js';

/**
 * Heating: the service desk (applications, dispatch, the units registered stopped), maintenance
 * (my work orders: the valve opened or locked, a stop signed by a second person, the household's
 * signature), the inspectors' spot checks (a seeded, weighted draw that can be recomputed) and the
 * heat purchase check (the supplier's bill against the station's primary meter). The server checks
 * every permission and who may sign; the page only offers what the role may do.
 */

const badge = (state) =>
  h(
    'span',
    { class: 'badge', dataset: { state } },
    hw(['stopped', 'flagged', 'ok'].includes(state) ? `st.${state}` : state),
  );
const when = (ts) => (ts === null || ts === undefined ? '–' : fmtTime(ts));

/** A button that posts and reloads, showing a refusal in the reader's language. */
function act(label, key, run, msg, reload, kind) {
  return h(
    'button',
    {
      type: 'button',
      ...(kind ? { class: kind } : {}),
      dataset: { action: key },
      onclick: async () => {
        clear(msg);
        try {
          await run();
          await reload();
        } catch (e) {
          msg.append(note(errorText(e), 'error'));
        }
      },
    },
    label,
  );
}

function feeCell(a) {
  if (!a.fee) return '–';
  const owing = a.fee.state === 'unpaid' ? ` ${fmtFen(a.fee.outstandingFen)}` : '';
  return `${hw(`fee.${a.fee.state}`)}${owing}${a.fee.notice ? ` · ${a.fee.notice}` : ''}`;
}

function valveCell(a) {
  if (!a.valve) return '–';
  return `${hw(a.valve.action)} ${when(a.valve.at)}${a.valve.seal ? ` · ${a.valve.seal}` : ''} · ${a.valve.by}`;
}

const appColumns = () => [
  [hw('workOrder'), (a) => `${a.number}${a.order ? ` / ${a.order.number}` : ''}`],
  [hw('kind'), (a) => hw(a.kind)],
  [hw('unit'), (a) => a.unit],
  [hw('applicant'), (a) => a.applicant.name],
  [hw('state'), (a) => badge(a.state)],
  [hw('fee'), feeCell],
  [hw('crew'), (a) => (a.order ? a.order.crew.join(', ') : '–')],
  [hw('valve'), valveCell],
  [hw('signatures'), (a) => a.signatures.map((x) => x.by).join(', ') || '–'],
];

// ---------------------------------------------------------------- the desk

function applyForm(reload) {
  const kind = h(
    'select',
    { name: 'kind' },
    ['stop', 'start'].map((k) => h('option', { value: k }, hw(k))),
  );
  const unit = h('input', { name: 'unit', required: true, placeholder: 'H-E-H03' });
  const applicant = h('input', { name: 'applicant', required: true });
  const staffId = h('input', { name: 'applicantStaffId' });
  const reason = h('input', { name: 'reason', required: true });
  const out = h('div', { 'aria-live': 'polite' });
  const submit = async (ev) => {
    ev.preventDefault();
    clear(out);
    try {
      const a = await post('/api/heating/applications', {
        ...{ kind: kind.value, unit: unit.value.trim(), applicant: applicant.value.trim() },
        ...(staffId.value.trim() ? { applicantStaffId: staffId.value.trim() } : {}),
        reason: reason.value.trim(),
      });
      out.append(note(`${hw('recorded')}${a.number} · ${hw(a.state)}`, 'ok'));
      await reload();
    } catch (e) {
      out.append(note(errorText(e), 'error'));
    }
  };
  return h(
    'section',
    { class: 'card', dataset: { section: 'heating-apply' } },
    h('h2', {}, hw('apply')),
    h(
      'form',
      { dataset: { form: 'heating-apply' }, onsubmit: submit },
      field(hw('kind'), kind),
      field(hw('unit'), unit),
      field(hw('applicant'), applicant),
      field(hw('staffId'), staffId),
      field(hw('reason'), reason),
      h('button', { type: 'submit' }, hw('submit')),
    ),
    out,
  );
}

function deskActions(a, msg, reload) {
  if (!['awaiting-payment', 'accepted', 'dispatched'].includes(a.state)) return '';
  const crew = h('input', { name: 'crew', 'aria-label': hw('crew'), placeholder: hw('crew') });
  const buttons = [];
  if (a.state !== 'dispatched')
    buttons.push(
      crew,
      act(
        hw('dispatch'),
        'dispatch',
        () =>
          post(`/api/heating/applications/${a.id}/dispatch`, {
            crew: crew.value.split(/[,，\s]+/).filter(Boolean),
          }),
        msg,
        reload,
      ),
    );
  buttons.push(
    act(
      hw('cancel'),
      'cancel',
      () => post(`/api/heating/applications/${a.id}/cancel`, { reason: hw('cancel') }),
      msg,
      reload,
      'danger',
    ),
  );
  return h('span', { class: 'controls' }, ...buttons);
}

function applicationsCard(can) {
  const box = h('div', {});
  const msg = h('div', { 'aria-live': 'polite' });
  const load = async () => {
    clear(box);
    const [apps, stopped] = await Promise.all([
      get('/api/heating/applications'),
      get('/api/heating/stopped'),
    ]);
    box.append(
      apps.length === 0
        ? note(hw('none'))
        : table(
            apps,
            [...appColumns(), ['', (a) => (can('heating.apply') ? deskActions(a, msg, load) : '')]],
            (a) => ({ dataset: { application: a.number, state: a.state } }),
          ),
      h('h2', {}, hw('stopped')),
      stopped.length === 0
        ? note(hw('none'))
        : table(
            stopped,
            [
              [hw('unit'), (r) => r.meter],
              [hw('from'), (r) => when(r.from)],
              [hw('to'), (r) => when(r.to)],
              [hw('workOrder'), (r) => r.workOrder],
              [hw('confirmedBy'), (r) => r.confirmedBy.join(', ')],
            ],
            (r) => ({ dataset: { stopped: r.meter } }),
          ),
    );
  };
  load().catch((e) => box.append(note(errorText(e), 'error')));
  return {
    el: h(
      'section',
      { class: 'card', dataset: { section: 'heating-applications' } },
      h('h2', {}, hw('applications')),
      msg,
      box,
    ),
    load,
  };
}

export const heatingDeskPage = {
  id: 'heating',
  get nav() {
    return hw('nav.desk');
  },
  // Billing prices the seasons here (heating.fees) from the units the desk certifies.
  // A supervisor approves the desk's electric heating proposals here (heating.electric-approve).
  allowed: (can) =>
    can('heating.apply') || can('heating.units') || can('heating.fees') || can('heating.electric-approve'),
  async render(main, _params, ctx) {
    const list = applicationsCard(ctx.can);
    main.append(
      h('h1', {}, hw('nav.desk')),
      ...(ctx.can('heating.apply') ? [applyForm(list.load)] : []),
      list.el,
      electricCard(ctx.can),
      unitsCard(ctx.can),
    );
  },
};

// ---------------------------------------------------------------- maintenance

function orderActions(a, me, msg, reload) {
  const path = (x) => `/api/heating/applications/${a.id}/${x}`;
  if (a.state === 'dispatched') {
    const ago = h('input', {
      name: 'minutes',
      type: 'number',
      min: 0,
      step: 1,
      value: '0',
      'aria-label': hw('minutesAgo'),
    });
    const seal = h('input', { name: 'seal', 'aria-label': hw('seal'), placeholder: hw('seal') });
    // Minutes before now by the server's clock: a phone's own clock is not trusted for the record.
    const valve = () =>
      post(path('valve'), {
        minutesAgo: Math.max(0, Math.floor(Number(ago.value) || 0)),
        ...(seal.value.trim() ? { seal: seal.value.trim() } : {}),
      });
    return h(
      'span',
      { class: 'controls' },
      field(hw('minutesAgo'), ago),
      ...(a.kind === 'stop' ? [field(hw('seal'), seal)] : []),
      act(hw(a.kind === 'stop' ? 'recordLocked' : 'recordOpened'), 'valve', valve, msg, reload),
    );
  }
  if (a.state === 'valve-done' && a.kind === 'stop' && !a.signatures.some((s) => s.by === me))
    return act(hw('sign'), 'sign', () => post(path('sign')), msg, reload);
  if (a.state === 'valve-done' && a.kind === 'start') {
    const name = h('input', {
      name: 'household',
      'aria-label': hw('household'),
      placeholder: hw('household'),
    });
    return h(
      'span',
      { class: 'controls' },
      name,
      act(
        hw('recordHousehold'),
        'household',
        () => post(path('household'), { name: name.value.trim() }),
        msg,
        reload,
      ),
    );
  }
  return '';
}

/** One work order as a card: read and acted on from a phone on site. */
function orderCard(a, me, msg, reload) {
  const cols = appColumns();
  return h(
    'div',
    { class: 'card', dataset: { order: a.order?.number ?? a.number, state: a.state } },
    h(
      'dl',
      { class: 'facts' },
      ...cols.flatMap(([label, cell]) => [h('dt', {}, label), h('dd', {}, cell(a))]),
    ),
    orderActions(a, me, msg, reload),
  );
}

export const heatingOrdersPage = {
  id: 'heating-orders',
  get nav() {
    return hw('nav.orders');
  },
  allowed: (can) => can('heating.work'),
  async render(main, _params, ctx) {
    const box = h('div', {});
    const msg = h('div', { 'aria-live': 'polite' });
    const me = ctx.actor?.id ?? '';
    const load = async () => {
      clear(box);
      const apps = await get('/api/heating/applications?mine=true');
      box.append(...(apps.length === 0 ? [note(hw('none'))] : apps.map((a) => orderCard(a, me, msg, load))));
    };
    main.append(
      h('h1', {}, hw('nav.orders')),
      h(
        'section',
        { class: 'card', dataset: { section: 'heating-orders' } },
        h('h2', {}, hw('myOrders')),
        msg,
        box,
      ),
    );
    await load();
  },
};

// ---------------------------------------------------------------- spot checks

function spotCheckCard(c, msg, reload) {
  const verifyOut = h('span', { dataset: { verify: c.id } });
  const verify = h(
    'button',
    {
      type: 'button',
      dataset: { action: 'verify' },
      onclick: async () => {
        const v = await get(`/api/heating/spot-checks/${c.id}/verify`);
        clear(verifyOut);
        verifyOut.append(note(hw(v.matches ? 'verified' : 'notVerified'), v.matches ? 'ok' : 'error'));
      },
    },
    hw('verify'),
  );
  const rows = c.candidates
    .filter((x) => c.drawn.includes(x.unit))
    .sort((a, b) => c.drawn.indexOf(a.unit) - c.drawn.indexOf(b.unit));
  const finding = (x) => {
    const done = c.findings.filter((f) => f.unit === x.unit).map((f) => `${hw(f.outcome)} (${f.by})`);
    const outcome = h(
      'select',
      { name: 'outcome', 'aria-label': hw('outcome') },
      ['locked-intact', 'tampered', 'heating-in-use', 'no-access'].map((o) =>
        h('option', { value: o }, hw(o)),
      ),
    );
    const text = h('input', { name: 'note', 'aria-label': hw('note'), placeholder: hw('note') });
    const record = () =>
      post(`/api/heating/spot-checks/${c.id}/findings`, {
        unit: x.unit,
        outcome: outcome.value,
        ...(text.value.trim() ? { note: text.value.trim() } : {}),
      });
    return h(
      'span',
      { class: 'controls' },
      done.join('; '),
      outcome,
      text,
      act(hw('record'), 'finding', record, msg, reload),
    );
  };
  return h(
    'div',
    { class: 'card', dataset: { spotCheck: c.id } },
    h('h3', {}, `#${c.id} · ${when(c.drawnAt)} · ${c.drawnBy} · ${hw('seed')} ${c.seed}`),
    // One card per drawn unit: an inspector reads and records it on a phone at the door.
    ...rows.map((x) =>
      h(
        'div',
        { class: 'card', dataset: { drawn: x.unit } },
        h(
          'dl',
          { class: 'facts' },
          ...[
            [hw('unit'), x.unit],
            [hw('from'), when(x.from)],
            [hw('energy'), x.energyKwh === null ? '–' : `${fmtNum(x.energyKwh, 1)} kWh`],
            [hw('flowShare'), x.flowShare === null ? '–' : `${fmtNum(100 * x.flowShare, 0)} %`],
            [hw('weight'), String(x.weight)],
          ].flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
        ),
        finding(x),
      ),
    ),
    h('p', {}, verify, verifyOut),
  );
}

export const heatingSpotPage = {
  id: 'heating-spot',
  get nav() {
    return hw('nav.spot');
  },
  allowed: (can) => can('heating.spot-check'),
  async render(main) {
    const box = h('div', {});
    const msg = h('div', { 'aria-live': 'polite' });
    const load = async () => {
      clear(box);
      const lists = await get('/api/heating/spot-checks');
      box.append(
        ...(lists.length === 0
          ? [note(hw('none'))]
          : lists.slice(0, 5).map((c) => spotCheckCard(c, msg, load))),
      );
    };
    const size = h('input', { name: 'size', type: 'number', min: 1, step: 1, value: '3', required: true });
    const days = h('input', { name: 'windowDays', type: 'number', min: 1, step: 1, value: '7' });
    const draw = async (ev) => {
      ev.preventDefault();
      clear(msg);
      try {
        await post('/api/heating/spot-checks', {
          size: Number(size.value),
          windowDays: Number(days.value) || 7,
        });
        await load();
      } catch (e) {
        msg.append(note(errorText(e), 'error'));
      }
    };
    main.append(
      h('h1', {}, hw('nav.spot')),
      h(
        'section',
        { class: 'card', dataset: { section: 'heating-spot' } },
        h(
          'form',
          { dataset: { form: 'spot-draw' }, onsubmit: draw },
          field(hw('size'), size),
          field(hw('windowDays'), days),
          h('button', { type: 'submit' }, hw('draw')),
        ),
        msg,
        h('h2', {}, hw('lists')),
        box,
      ),
    );
    await load();
  },
};

// ---------------------------------------------------------------- heat purchase

function reasonsOf(c) {
  const out = [];
  if (c.quantity.flagged) out.push(`${hw('reasonQuantity')} ${fmtNum(c.quantity.differencePercent, 2)} %`);
  for (const e of c.elements.filter((x) => x.flagged))
    out.push(
      `${hw('reasonElement')} ${hw(e.name)}: ${hw('billed')} ${fmtFen(e.billedFen)}, ${hw('expected')} ${fmtFen(e.expectedFen)}`,
    );
  if (c.amount.flagged) out.push(`${hw('reasonAmount')} ${fmtNum(c.amount.differencePercent, 2)} %`);
  if (c.loss.flagged) out.push(`${hw('reasonLoss')} (${fmtNum(c.loss.unexplained, 1)} kWh)`);
  if (c.mainMeter.daysMissing > 0) out.push(`${hw('reasonMissing')}: ${c.mainMeter.daysMissing}`);
  return out;
}

function billForm(stations, msg, reload) {
  const station = h(
    'select',
    { name: 'station' },
    stations.map((s) => h('option', { value: s.id }, s.id)),
  );
  const month = h('input', {
    name: 'month',
    required: true,
    placeholder: '2026-11',
    pattern: '\\d{4}-\\d{2}',
  });
  const billNo = h('input', { name: 'billNo', required: true });
  const quantity = h('input', { name: 'quantity', required: true, inputmode: 'decimal' });
  const unit = h(
    'select',
    { name: 'unit' },
    ['GJ', 'MWh', 'kWh'].map((u) => h('option', { value: u }, hw(u))),
  );
  const amount = h('input', { name: 'amount', required: true, inputmode: 'decimal' });
  const elements = h('div', {});
  const drawElements = () => {
    clear(elements);
    const s = stations.find((x) => x.id === station.value);
    const names = s
      ? [...(s.contract.at(-1)?.components ?? []).map((c) => c.name), ...(s.fixed ?? []).map((f) => f.name)]
      : [];
    elements.append(
      ...names.map((n) =>
        field(
          `${hw('element')}: ${hw(n)}`,
          h('input', { name: `element-${n}`, dataset: { element: n }, inputmode: 'decimal', required: true }),
        ),
      ),
    );
  };
  station.addEventListener('change', drawElements);
  drawElements();
  const submit = async (ev) => {
    ev.preventDefault();
    clear(msg);
    const fen = parseYuan(amount.value);
    const parts = [...elements.querySelectorAll('input[data-element]')].map((i) => ({
      name: i.dataset.element,
      amountFen: parseYuan(i.value),
    }));
    if (fen === null || parts.some((p) => p.amountFen === null))
      return msg.append(
        note(errorText({ code: 'INVALID_HEAT_BILL', message: 'amounts in yuan, e.g. 1234.50' }), 'error'),
      );
    try {
      await post('/api/heating/purchase/checks', {
        ...{ station: station.value, month: month.value.trim(), billNo: billNo.value.trim() },
        ...{ quantity: Number(quantity.value), unit: unit.value, amountFen: fen, elements: parts },
      });
      await reload();
    } catch (e) {
      msg.append(note(errorText(e), 'error'));
    }
  };
  return h(
    'form',
    { dataset: { form: 'heat-bill' }, onsubmit: submit },
    field(hw('station'), station),
    field(hw('month'), month),
    field(hw('billNo'), billNo),
    field(hw('quantity'), quantity),
    field(hw('heatUnit'), unit),
    field(hw('amount'), amount),
    elements,
    h('button', { type: 'submit' }, hw('check')),
  );
}

export const heatPurchasePage = {
  id: 'heat-purchase',
  get nav() {
    return hw('nav.purchase');
  },
  allowed: (can) => can('invoices.check'),
  async render(main) {
    const stations = await get('/api/heating/purchase/stations');
    const box = h('div', {});
    const msg = h('div', { 'aria-live': 'polite' });
    const load = async () => {
      clear(box);
      const checks = await get('/api/heating/purchase/checks');
      box.append(
        checks.length === 0
          ? note(hw('none'))
          : table(
              checks,
              [
                [hw('billNo'), (c) => `${c.invoiceNo} · ${c.period.label}`],
                [hw('station'), (c) => c.supplyPoint],
                [hw('invoiced'), (c) => `${fmtNum(c.quantity.invoiced, 1)} kWh`],
                [hw('metered'), (c) => `${fmtNum(c.quantity.metered, 1)} kWh`],
                [
                  hw('difference'),
                  (c) =>
                    `${fmtNum(c.quantity.difference, 1)} kWh (${fmtNum(c.quantity.differencePercent, 2)} %)`,
                ],
                [hw('billed'), (c) => fmtFen(c.amount.billedFen)],
                [hw('expected'), (c) => fmtFen(c.amount.expectedFen)],
                [hw('loss'), (c) => `${fmtNum(c.loss.gapPercent, 2)} % / ${fmtNum(c.loss.lossPercent, 2)} %`],
                [
                  hw('state'),
                  (c) =>
                    h(
                      'div',
                      {},
                      badge(c.flagged ? 'flagged' : 'ok'),
                      ...reasonsOf(c).map((r) => h('p', { class: 'reason' }, r)),
                    ),
                ],
              ],
              (c) => ({ dataset: { heatBill: c.invoiceNo, flagged: String(c.flagged) } }),
            ),
      );
    };
    main.append(
      h('h1', {}, hw('nav.purchase')),
      h(
        'section',
        { class: 'card', dataset: { section: 'heat-stations' } },
        h('h2', {}, hw('stations')),
        stations.length === 0
          ? note(hw('none'))
          : table(stations, [
              [hw('station'), (s) => s.id],
              [hw('primary'), (s) => s.meter],
              [hw('below'), (s) => s.billedMeters.join(', ')],
              [hw('loss'), (s) => (s.lossPercent === undefined ? '–' : `${s.lossPercent} %`)],
            ]),
      ),
      h(
        'section',
        { class: 'card', dataset: { section: 'heat-bill' } },
        h('h2', {}, hw('enterBill')),
        billForm(stations, msg, load),
        msg,
      ),
      h('section', { class: 'card', dataset: { section: 'heat-checks' } }, h('h2', {}, hw('checks')), box),
    );
    await load();
  },
};
