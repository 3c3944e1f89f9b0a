import type { LoadedCampus } from '../../../config/campus.ts';
import { QUANTITIES, type Quantity } from '../../../config/schemas/quantities.ts';
import type { MeterKind, ReadingStore } from '../../metering/storage.ts';
import type { DetectionInput, HeatingRegistration, MeterData, Sample, WeatherSample } from './types.ts';

/**
 * Builds the engine's DetectionInput, from the reading store (live service) or from CSV files
 * (offline CLI). Both paths end in `assemble`, so the same data gives the same input: every meter
 * of the campus with its kind, parent and account; its cumulative register; and each other quantity
 * it has samples of, all within [from, to) and in time order.
 */

/** The register each meter kind is metered by. */
export const REGISTER_OF: Record<MeterKind, Quantity> = {
  electricity: 'energy_import_kwh',
  water: 'volume_m3',
  heat: 'heat_kwh',
};

/** The other quantities detectors use, per meter kind. */
export const SERIES_OF: Record<MeterKind, readonly Quantity[]> = {
  electricity: [
    'power_kw',
    'pf',
    'current_a',
    'voltage_v',
    'relay_closed',
    'breaker_closed',
    'energy_export_kwh',
  ],
  water: ['flow_m3h'],
  heat: ['flow_m3h', 'supply_c', 'return_c', 'volume_m3'],
};

export interface CampusMeter {
  meter: string;
  kind: MeterKind;
  parent?: string;
  account?: string;
  /** Electricity meters: the heat meters that name it as their unit's `electricityMeter`. */
  heatMeters?: string[];
}

/** Every meter of the campus (Modbus and OPC UA) with its place in the metering tree. */
export function campusMeters(campus: LoadedCampus): CampusMeter[] {
  const out: CampusMeter[] = [];
  const links = heatLinks(campus);
  const heatOf = new Map<string, string[]>();
  for (const [heat, elec] of links) heatOf.set(elec, [...(heatOf.get(elec) ?? []), heat]);
  for (const site of campus.config.sites) {
    for (const gw of site.gateways) {
      const all = [...gw.buses.flatMap((b) => b.meters), ...gw.opcua.flatMap((d) => d.meters)];
      for (const m of all) {
        const heat = heatOf.get(m.id);
        out.push({
          meter: m.id,
          kind: m.kind,
          ...(m.parent ? { parent: m.parent } : {}),
          ...(m.account ? { account: m.account } : {}),
          ...(heat ? { heatMeters: heat } : {}),
        });
      }
    }
  }
  return out;
}

/** Heat meter → its unit's electricity meter, as the campus file links them. */
export function heatLinks(campus: LoadedCampus): Map<string, string> {
  const out = new Map<string, string>();
  for (const site of campus.config.sites)
    for (const gw of site.gateways)
      for (const m of [...gw.buses.flatMap((b) => b.meters), ...gw.opcua.flatMap((d) => d.meters)])
        if (m.electricityMeter) out.set(m.id, m.electricityMeter);
  return out;
}

/**
 * The registrations with each heat meter's electricity meter filled in from the campus file, so
 * a stop recorded on the heat meter (the desk keys stops by it) also reaches the unit's electricity.
 */
export function linkRegistrations(
  campus: LoadedCampus,
  heating: readonly HeatingRegistration[],
): HeatingRegistration[] {
  const links = heatLinks(campus);
  return heating.map((r) => {
    const elec = r.electricityMeter ?? links.get(r.meter);
    return elec ? { ...r, electricityMeter: elec } : { ...r };
  });
}

export interface InputRange {
  from: number;
  /** Exclusive. */
  to: number;
  heating?: readonly HeatingRegistration[];
  weather?: readonly WeatherSample[];
  /** Roles per meter, where the caller knows them (e.g. `dorm-room`). */
  roles?: ReadonlyMap<string, string>;
}

type Points = Map<string, Map<Quantity, Sample[]>>;

function assemble(campus: LoadedCampus, points: Points, range: InputRange): DetectionInput {
  const meters = new Map<string, MeterData>();
  for (const cm of campusMeters(campus)) {
    const own = points.get(cm.meter);
    const byTs = (a: Sample, b: Sample) => a.ts - b.ts;
    const series: MeterData['series'] = {};
    for (const q of SERIES_OF[cm.kind]) {
      const list = own?.get(q);
      if (list && list.length > 0) series[q] = [...list].sort(byTs);
    }
    const role = range.roles?.get(cm.meter);
    meters.set(cm.meter, {
      ...cm,
      ...(role ? { role } : {}),
      register: [...(own?.get(REGISTER_OF[cm.kind]) ?? [])].sort(byTs),
      series,
    });
  }
  const inRange = (ts: number) => ts >= range.from && ts < range.to;
  return {
    timezone: campus.config.campus.timezone,
    from: range.from,
    to: range.to,
    meters,
    ...(range.heating ? { heating: linkRegistrations(campus, range.heating) } : {}),
    ...(range.weather
      ? { weather: range.weather.filter((w) => inRange(w.ts)).sort((a, b) => a.ts - b.ts) }
      : {}),
  };
}

function add(points: Points, meter: string, q: Quantity, s: Sample): void {
  let byQ = points.get(meter);
  if (!byQ) points.set(meter, (byQ = new Map()));
  let list = byQ.get(q);
  if (!list) byQ.set(q, (list = []));
  list.push(s);
}

/** The input for [from, to) from the reading store: one series query per quantity and meter kind. */
export async function inputFromStore(
  store: ReadingStore,
  campus: LoadedCampus,
  range: InputRange,
): Promise<DetectionInput> {
  const byKind = new Map<MeterKind, string[]>();
  for (const m of campusMeters(campus)) byKind.set(m.kind, [...(byKind.get(m.kind) ?? []), m.meter]);
  const points: Points = new Map();
  for (const [kind, meters] of byKind) {
    for (const quantity of [REGISTER_OF[kind], ...SERIES_OF[kind]]) {
      const rows = await store.series({ meters, quantity, from: range.from, to: range.to });
      for (const r of rows) add(points, r.meter, quantity, { ts: r.ts, value: r.value });
    }
  }
  return assemble(campus, points, range);
}

// ── CSV ──

/** A bad row or header of an input file: `file:line: what is wrong`. */
export class InputFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    problem: string,
  ) {
    super(`${file}:${line}: ${problem}`);
    this.name = 'InputFileError';
  }
}

/** Splits one CSV line (RFC 4180 quoting, no line breaks inside fields). */
function splitCsv(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      if (i < line.length && line[i] !== ',') return null;
    } else {
      const end = line.indexOf(',', i);
      field = end < 0 ? line.slice(i) : line.slice(i, end);
      i = end < 0 ? line.length : end;
    }
    out.push(field.trim());
    if (i >= line.length) return out;
    i++; // the comma
  }
}

interface CsvFile {
  name: string;
  text: string;
}

/** Rows with their line numbers, after checking the header names `columns` (extra columns refused). */
function* rows(
  file: CsvFile,
  columns: readonly string[],
  optional: readonly string[] = [],
): Generator<{ line: number; get: (c: string) => string }> {
  const lines = file.text.split(/\r?\n/);
  const header = splitCsv((lines[0] ?? '').replace(/^\uFEFF/, ''));
  if (!header || header.length === 0 || header[0] === '') {
    throw new InputFileError(file.name, 1, `expected a header: ${columns.join(',')}`);
  }
  const index = new Map(header.map((h, i) => [h.toLowerCase(), i]));
  for (const c of columns) {
    if (!index.has(c))
      throw new InputFileError(file.name, 1, `header has no column "${c}" (expected ${columns.join(',')})`);
  }
  for (const h of index.keys()) {
    if (!columns.includes(h) && !optional.includes(h))
      throw new InputFileError(file.name, 1, `unknown column "${h}" (expected ${columns.join(',')})`);
  }
  for (let i = 1; i < lines.length; i++) {
    const text = lines[i]!;
    // Blank lines (a trailing newline) are no rows; anything else must be one.
    if (text.trim() === '') continue;
    const cells = splitCsv(text);
    if (!cells) throw new InputFileError(file.name, i + 1, 'unbalanced quotes');
    if (cells.length !== header.length)
      throw new InputFileError(file.name, i + 1, `expected ${header.length} fields, got ${cells.length}`);
    yield { line: i + 1, get: (c) => cells[index.get(c)!] ?? '' };
  }
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]00:?00)$/;

function parseTs(file: string, line: number, column: string, v: string): number {
  const t = ISO_UTC.test(v) ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(t))
    throw new InputFileError(
      file,
      line,
      `${column} "${v}" is not an ISO 8601 UTC time (e.g. 2026-12-01T08:00:00Z)`,
    );
  return t;
}

function parseNumber(file: string, line: number, column: string, v: string): number {
  const x = v === '' ? Number.NaN : Number(v);
  if (!Number.isFinite(x)) throw new InputFileError(file, line, `${column} "${v}" is not a number`);
  return x;
}

export interface CsvInputOptions {
  campus: LoadedCampus;
  readingsCsv: CsvFile;
  weatherCsv?: CsvFile;
  heatingCsv?: CsvFile;
  /** Default: from the earliest to just after the latest reading. */
  from?: number;
  to?: number;
  roles?: ReadonlyMap<string, string>;
}

/**
 * Heating registrations `meter,state,from,to,work_order,confirmed_by[,electricity_meter]`
 * (confirmed_by: `a;b`). `meter` is the unit's heat meter (a start or a stop), or its electricity
 * meter with state `on`: the unit registered as heated electrically from `from`.
 */
export function parseHeatingCsv(file: CsvFile, campus: LoadedCampus): HeatingRegistration[] {
  const kinds = new Map(campusMeters(campus).map((m) => [m.meter, m.kind]));
  const links = heatLinks(campus);
  const out: HeatingRegistration[] = [];
  const cols = ['meter', 'state', 'from', 'to', 'work_order', 'confirmed_by'];
  // Registered electric heating per meter, to refuse two that overlap (which one ended it?).
  const electric = new Map<string, { from: number; to: number; line: number }[]>();
  for (const { line, get } of rows(file, cols, ['electricity_meter'])) {
    const meter = get('meter');
    const kind = kinds.get(meter);
    if (!kind) throw new InputFileError(file.name, line, `meter "${meter}" is not in the campus`);
    if (kind === 'water')
      throw new InputFileError(
        file.name,
        line,
        `meter "${meter}" is a water meter: give the unit's heat meter, or its electricity meter for electric heating`,
      );
    const state = get('state');
    if (state !== 'on' && state !== 'stopped')
      throw new InputFileError(file.name, line, `state "${state}" must be on or stopped`);
    if (kind === 'electricity' && state !== 'on')
      throw new InputFileError(
        file.name,
        line,
        `meter "${meter}" is an electricity meter: that registers electric heating, whose state is on (a stop is recorded on the unit's heat meter)`,
      );
    const from = parseTs(file.name, line, 'from', get('from'));
    const to = get('to') === '' ? undefined : parseTs(file.name, line, 'to', get('to'));
    if (to !== undefined && to <= from) throw new InputFileError(file.name, line, 'to must be after from');
    const names =
      get('confirmed_by') === ''
        ? []
        : get('confirmed_by')
            .split(';')
            .map((n) => n.trim());
    if (names.some((n) => n === ''))
      throw new InputFileError(file.name, line, `confirmed_by "${get('confirmed_by')}" has an empty name`);
    // DOMAIN.md: a stop is done and signed by at least two maintenance staff.
    if (state === 'stopped' && new Set(names.map((n) => n.toLowerCase())).size < 2)
      throw new InputFileError(
        file.name,
        line,
        `a stop is confirmed by two different people (confirmed_by "a;b"), got "${get('confirmed_by')}"`,
      );
    const given = get('electricity_meter');
    if (given !== '' && kinds.get(given) !== 'electricity')
      throw new InputFileError(
        file.name,
        line,
        `electricity_meter "${given}" is not an electricity meter of the campus`,
      );
    // An electric heating row names its own meter; a heat meter's is the campus file's link.
    const own = kind === 'electricity' ? meter : links.get(meter);
    if (given !== '' && own !== undefined && given !== own)
      throw new InputFileError(
        file.name,
        line,
        kind === 'electricity'
          ? `electricity_meter "${given}" differs from meter "${meter}": electric heating is registered on the unit's own electricity meter`
          : `electricity_meter "${given}" differs from "${own}", the electricity meter the campus file links to heat meter "${meter}"`,
      );
    const elec = given !== '' ? given : own;
    if (kind === 'electricity') {
      const end = to ?? Infinity;
      const clash = (electric.get(meter) ?? []).find((e) => e.from < end && from < e.to);
      if (clash)
        throw new InputFileError(
          file.name,
          line,
          `electric heating of "${meter}" is already registered over this time (line ${clash.line})`,
        );
      electric.set(meter, [...(electric.get(meter) ?? []), { from, to: end, line }]);
    }
    out.push({
      meter,
      state,
      from,
      ...(to !== undefined ? { to } : {}),
      ...(elec ? { electricityMeter: elec } : {}),
      ...(get('work_order') ? { workOrder: get('work_order') } : {}),
      ...(names.length > 0 ? { confirmedBy: names } : {}),
    });
  }
  return out;
}

/** Weather `ts,outdoor_c`. */
export function parseWeatherCsv(file: CsvFile): WeatherSample[] {
  const out: WeatherSample[] = [];
  const seen = new Map<number, number>();
  for (const { line, get } of rows(file, ['ts', 'outdoor_c'])) {
    const ts = parseTs(file.name, line, 'ts', get('ts'));
    const outdoorC = parseNumber(file.name, line, 'outdoor_c', get('outdoor_c'));
    if (outdoorC < -60 || outdoorC > 60)
      throw new InputFileError(
        file.name,
        line,
        `outdoor_c ${outdoorC} is not a plausible outdoor temperature`,
      );
    const dup = seen.get(ts);
    if (dup !== undefined)
      throw new InputFileError(
        file.name,
        line,
        `a second temperature for ${get('ts')} (first on line ${dup})`,
      );
    seen.set(ts, line);
    out.push({ ts, outdoorC });
  }
  return out.sort((a, b) => a.ts - b.ts);
}

/**
 * The input from CSV files. Readings are long form `meter,ts,quantity,value`, registers as the
 * meters give them. Any bad row stops the parse with `file:line: problem`; nothing is skipped.
 */
export function inputFromCsv(opts: CsvInputOptions): DetectionInput {
  const { campus, readingsCsv: file } = opts;
  const kinds = new Map(campusMeters(campus).map((m) => [m.meter, m.kind]));
  const points: Points = new Map();
  const seen = new Map<string, number>();
  let min = Infinity;
  let max = -Infinity;
  for (const { line, get } of rows(file, ['meter', 'ts', 'quantity', 'value'])) {
    const meter = get('meter');
    const kind = kinds.get(meter);
    if (!kind) throw new InputFileError(file.name, line, `meter "${meter}" is not in the campus`);
    const ts = parseTs(file.name, line, 'ts', get('ts'));
    const quantity = get('quantity');
    if (!(quantity in QUANTITIES))
      throw new InputFileError(
        file.name,
        line,
        `quantity "${quantity}" is not one of ${Object.keys(QUANTITIES).join(', ')}`,
      );
    const q = quantity as Quantity;
    if (q !== REGISTER_OF[kind] && !SERIES_OF[kind].includes(q))
      throw new InputFileError(file.name, line, `a ${kind} meter has no ${q} here`);
    const value = parseNumber(file.name, line, 'value', get('value'));
    const key = `${meter}\u0000${ts}\u0000${q}`;
    const dup = seen.get(key);
    if (dup !== undefined)
      throw new InputFileError(
        file.name,
        line,
        `a second ${q} of ${meter} at ${get('ts')} (first on line ${dup})`,
      );
    seen.set(key, line);
    if (opts.from !== undefined && ts < opts.from) continue;
    if (opts.to !== undefined && ts >= opts.to) continue;
    min = Math.min(min, ts);
    max = Math.max(max, ts);
    add(points, meter, q, { ts, value });
  }
  if (min === Infinity && (opts.from === undefined || opts.to === undefined))
    throw new InputFileError(file.name, 1, 'no readings');
  const heating = opts.heatingCsv ? parseHeatingCsv(opts.heatingCsv, campus) : undefined;
  const weather = opts.weatherCsv ? parseWeatherCsv(opts.weatherCsv) : undefined;
  return assemble(campus, points, {
    from: opts.from ?? min,
    to: opts.to ?? max + 1,
    ...(heating ? { heating } : {}),
    ...(weather ? { weather } : {}),
    ...(opts.roles ? { roles: opts.roles } : {}),
  });
}

/** Readings as the long-form CSV `inputFromCsv` reads (for exports and tests). */
export function readingsCsv(input: DetectionInput): string {
  const lines = ['meter,ts,quantity,value'];
  for (const m of input.meters.values()) {
    const q = REGISTER_OF[m.kind];
    for (const s of m.register) lines.push(`${m.meter},${new Date(s.ts).toISOString()},${q},${s.value}`);
    for (const [quantity, list] of Object.entries(m.series)) {
      for (const s of list ?? [])
        lines.push(`${m.meter},${new Date(s.ts).toISOString()},${quantity},${s.value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
