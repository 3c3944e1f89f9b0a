/**
 * What the live tree shows, without the DOM: the campus tree regrouped by utility (electricity,
 * then water, then heat), names in natural order ("Building 2" before "Building 10"), the columns
 * of each utility as data, and the totals of a node. Kept apart from the page so that tests can
 * recompute it another way.
 */

export const UTILITIES = ['electricity', 'water', 'heat'];

/**
 * The columns of each utility: a reading's quantity (or `today`, the energy or volume since local
 * midnight) in its unit. `sums` says whether values of several meters add up: power, energy,
 * volume and flow do; voltage, current of different phases and temperatures do not, and neither do
 * cumulative registers of different meters. `scale` turns the canonical unit into the shown one.
 */
export const COLUMNS = {
  electricity: [
    { key: 'power', quantity: 'power_kw', unit: 'kW', digits: 2, sums: true },
    { key: 'today', today: true, unit: 'kWh', digits: 1, sums: true },
    { key: 'voltage', quantity: 'voltage_v', unit: 'V', digits: 1, sums: false },
    { key: 'current', quantity: 'current_a', unit: 'A', digits: 2, sums: false },
  ],
  water: [
    { key: 'flow', quantity: 'flow_m3h', unit: 'm³/h', digits: 3, sums: true },
    { key: 'today', today: true, unit: 'm³', digits: 2, sums: true },
    { key: 'register', quantity: 'volume_m3', unit: 'm³', digits: 1, sums: false },
  ],
  heat: [
    { key: 'flow', quantity: 'flow_m3h', unit: 'm³/h', digits: 3, sums: true },
    // Heat meters count kWh; heat is bought and billed in GJ (1 kWh = 0.0036 GJ).
    { key: 'today', today: true, unit: 'GJ', scale: 0.0036, digits: 3, sums: true },
    { key: 'supply', quantity: 'supply_c', unit: '°C', digits: 1, sums: false },
    { key: 'return', quantity: 'return_c', unit: '°C', digits: 1, sums: false },
  ],
};

/** An OPC UA substation device groups electricity meters. */
export function utilityOf(node) {
  return node.kind === 'group' ? 'electricity' : node.kind;
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Natural order by name, then id: "Building 2" before "Building 10", "line1.2" before "line1.10". */
export function naturalCompare(a, b) {
  return collator.compare(a, b);
}

function byName(tree) {
  return (a, b) => {
    const na = tree.nodes[a];
    const nb = tree.nodes[b];
    return naturalCompare(na?.name ?? a, nb?.name ?? b) || naturalCompare(a, b);
  };
}

/** A node's children of its own utility, in natural order (another utility's are roots there). */
export function childrenOf(tree, id) {
  const node = tree.nodes[id];
  if (!node) return [];
  const u = utilityOf(node);
  return node.children.filter((c) => tree.nodes[c] && utilityOf(tree.nodes[c]) === u).sort(byName(tree));
}

/**
 * The tree by utility: for each utility with a meter, its sites (in the file's order) and their
 * roots in natural order. A root is a node without a parent, or whose parent is of another utility
 * (a building's water meter hung under its electricity main).
 */
export function sections(tree) {
  const isRoot = (n) =>
    n.parent === null || !tree.nodes[n.parent] || utilityOf(tree.nodes[n.parent]) !== utilityOf(n);
  const out = [];
  for (const utility of UTILITIES) {
    const sites = [];
    for (const site of tree.sites) {
      const roots = Object.values(tree.nodes)
        .filter((n) => n.site === site.id && utilityOf(n) === utility && isRoot(n))
        .map((n) => n.id)
        .sort(byName(tree));
      if (roots.length > 0) sites.push({ id: site.id, name: site.name, roots });
    }
    if (sites.length > 0) out.push({ utility, sites });
  }
  return out;
}

/**
 * A meter's state for the operator: in a planned outage (its supply is off on purpose, whatever
 * it reads), no data, not answering (its last reading is an error), silent (stale) or ok.
 */
export function stateOf(reading, outage) {
  if (outage !== undefined && outage !== null) return 'outage';
  if (!reading) return 'nodata';
  if (reading.quality === 'error') return 'error';
  if (reading.stale) return 'stale';
  return 'ok';
}

/** The value a column shows for one reading (scaled), or undefined. */
export function valueOf(reading, column) {
  if (!reading || reading.quality === 'error') return undefined;
  const raw = column.today ? reading.today : reading.values?.[column.quantity];
  if (raw === undefined || raw === null || !Number.isFinite(raw)) return undefined;
  return column.scale ? raw * column.scale : raw;
}

/**
 * The total of a summable column below a node: over its children of the same utility, each
 * child's own meter if it has one (a building main already measures its rooms), else the
 * child's own total (an OPC UA device group). Only fresh readings count; a child without one is
 * counted as missing, so "3 of 4 meters" is never mistaken for the whole.
 * `readingOf(id)` gives a meter's reading (or undefined); `outageOf(id)` its planned outage.
 */
export function totalOf(tree, ids, column, readingOf, outageOf = () => undefined) {
  let sum = 0;
  let counted = 0;
  let missing = 0;
  for (const id of ids) {
    const node = tree.nodes[id];
    if (!node) continue;
    if (node.kind === 'group') {
      const t = totalOf(tree, childrenOf(tree, id), column, readingOf, outageOf);
      sum += t.sum;
      counted += t.counted;
      missing += t.missing;
      continue;
    }
    const r = readingOf(id);
    const v = valueOf(r, column);
    // A meter in a planned outage with no fresh value is off on purpose: it adds nothing, and is
    // not missing.
    const state = stateOf(r, outageOf(id));
    if (v !== undefined && (state === 'ok' || (state === 'outage' && !r?.stale))) {
      sum += v;
      counted++;
    } else if (state === 'outage') {
      counted++;
    } else {
      missing++;
    }
  }
  return { sum, counted, missing };
}

/**
 * The words key of a reading error code: the code's own, else its kind without the protocol's
 * prefix (MODBUS_TIMEOUT and DLT645_TIMEOUT are both "no answer in time"). `has(key)` says whether
 * words exist; null when none do (the page shows the code).
 */
export function errorKey(code, has) {
  if (!code) return null;
  const own = `readerr.${code}`;
  if (has(own)) return own;
  const kind = `readerr.${code.replace(/^(MODBUS|OPCUA|DLT645|CJT188)_/, '')}`;
  return has(kind) ? kind : null;
}
