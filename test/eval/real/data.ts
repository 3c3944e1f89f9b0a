import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The shared real data (Cambridge Estates, hourly, 2017–2018; see its README): building
 * electricity, gas (heat delivered) and outdoor temperature, on one hourly UTC grid. The
 * publisher wrote missing hours as 0: every zero hour is a gap here (NaN), not a building off.
 */

export const HOUR = 3_600_000;
export const DAY = 86_400_000;
export const DATA_DIR = process.env.REAL_DATA_DIR ?? '/work/shared/data/cambridge-estates-dev';
export const YEARS = [2017, 2018] as const;
/** First hour of the grid (UTC ms) and its length in hours. */
export const GRID_START = Date.UTC(YEARS[0], 0, 1);
export const GRID_HOURS = Math.round((Date.UTC(YEARS[1] + 1, 0, 1) - GRID_START) / HOUR);

export interface RealBuilding {
  id: number;
  /** kWh per hour on the grid, NaN where the publisher had no value. */
  electricity: Float64Array;
  /** Heat delivered (kWh per hour), where the building has gas data for both years. */
  gas?: Float64Array;
}

export interface RealData {
  buildings: RealBuilding[];
  /** Outdoor air temperature (°C) per grid hour, NaN where missing. */
  temperature: Float64Array;
}

function readSeries(file: string, column = 1): Float64Array {
  const out = new Float64Array(GRID_HOURS).fill(Number.NaN);
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    const cells = line.split(',');
    const ts = Date.parse(`${cells[0]!.replace(' ', 'T')}Z`);
    const v = Number(cells[column]);
    if (!Number.isFinite(ts) || !Number.isFinite(v))
      throw new Error(`${file}:${i + 1}: expected "datetime,value", got "${line}"`);
    const h = Math.round((ts - GRID_START) / HOUR);
    if (h >= 0 && h < GRID_HOURS) out[h] = v;
  }
  return out;
}

/** Both years of one quantity of a building, or undefined if a year is missing. */
function bothYears(dir: string, zeroIsGap: boolean): Float64Array | undefined {
  if (!YEARS.every((y) => existsSync(join(dir, `${y}.csv`)))) return undefined;
  const out = new Float64Array(GRID_HOURS).fill(Number.NaN);
  for (const y of YEARS) {
    const s = readSeries(join(dir, `${y}.csv`));
    for (let h = 0; h < GRID_HOURS; h++)
      if (s[h] === s[h]) out[h] = zeroIsGap && s[h] === 0 ? Number.NaN : s[h]!;
  }
  return out;
}

/** Buildings with electricity for both years (the ones a meter could be evaluated on). */
export function loadRealData(dir = DATA_DIR): RealData {
  const root = join(dir, 'buildings');
  if (!existsSync(root)) throw new Error(`real data not found at ${dir} (set REAL_DATA_DIR)`);
  const buildings: RealBuilding[] = [];
  for (const name of readdirSync(root).sort()) {
    const id = Number(/_b(\d+)$/.exec(name)?.[1]);
    if (!Number.isInteger(id)) continue;
    const electricity = bothYears(join(root, name, 'electricity'), true);
    if (!electricity) continue;
    // A building missing most of its data is no meter to evaluate on.
    let known = 0;
    for (const v of electricity) if (v === v) known++;
    if (known < 0.8 * GRID_HOURS) continue;
    const gas = bothYears(join(root, name, 'gas'), false);
    buildings.push({ id, electricity, ...(gas ? { gas } : {}) });
  }
  const temperature = new Float64Array(GRID_HOURS).fill(Number.NaN);
  for (const y of YEARS) {
    const s = readSeries(join(dir, 'weather', `${y}.csv`));
    for (let h = 0; h < GRID_HOURS; h++) if (s[h] === s[h]) temperature[h] = s[h]!;
  }
  return { buildings: buildings.sort((a, b) => a.id - b.id), temperature };
}

/**
 * The split by building id, fixed before any tuning: ids ≡ 1 (mod 4) tune, ids ≡ 3 (mod 4) test
 * (every id in the archive is odd). Never tune on the test half.
 */
export function half(id: number): 'tuning' | 'test' {
  return id % 4 === 1 ? 'tuning' : 'test';
}
