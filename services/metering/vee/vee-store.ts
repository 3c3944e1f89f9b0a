import { appendOnlyTriggers, type BackofficeDb } from '../../platform/db.ts';
import type { CumulativeQuantity } from '../storage.ts';
import type { IntervalSource, ValidatedInterval, VeeFlag } from './types.ts';

/**
 * Versioned VEE intervals in the back-office database, append-only (triggers refuse UPDATE and
 * DELETE, as on the audit log):
 *
 * - `vee_interval_versions`: one row per version of a 15-min interval of a meter's register.
 * - `vee_pins`: which version a bill run used.
 *
 * The current version of an interval is its highest pinned version if any bill run pinned one,
 * else its highest version. A version above the current pinned one is a *pending correction*: a
 * late real read, a re-estimate or an edit that arrived after billing. It is kept, listed by
 * `pending()`, and becomes current only when a later bill run pins it (the correction is then
 * billed as such); the billed number never changes under billing's feet.
 *
 * Computed results never supersede an edited version: an edit is a person's decision, and only
 * another edit replaces it.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS vee_interval_versions (
  meter TEXT NOT NULL,
  quantity TEXT NOT NULL,
  start INTEGER NOT NULL,
  end INTEGER NOT NULL,
  version INTEGER NOT NULL,
  value REAL,
  source TEXT NOT NULL,
  method TEXT,
  note TEXT,
  flags TEXT NOT NULL,
  edited_by TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (meter, quantity, start, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vee_pins (
  meter TEXT NOT NULL,
  quantity TEXT NOT NULL,
  start INTEGER NOT NULL,
  bill_run TEXT NOT NULL,
  version INTEGER NOT NULL,
  pinned_at INTEGER NOT NULL,
  PRIMARY KEY (meter, quantity, start, bill_run)
) WITHOUT ROWID;
${appendOnlyTriggers('vee_interval_versions', 'VEE interval versions are append-only', 'vee_versions', ['meter', 'quantity', 'start', 'version'])}${appendOnlyTriggers('vee_pins', 'VEE pins are append-only', 'vee_pins')}`;

interface VersionRow {
  meter: string;
  quantity: string;
  start: number;
  end: number;
  version: number;
  value: number | null;
  source: IntervalSource;
  method: string | null;
  note: string | null;
  flags: string;
  edited_by: string | null;
  created_at: number;
}

interface PinRow {
  start: number;
  bill_run: string;
  version: number;
  pinned_at: number;
}

/** What a new version says; the store numbers it. */
export interface VersionContent {
  start: number;
  end: number;
  value: number | null;
  source: IntervalSource;
  method?: string;
  note?: string;
  flags: readonly VeeFlag[];
  editedBy?: string;
}

/** Values are kept to 1e-6 of their unit, so recomputing gives bit-identical numbers. */
export function roundValue(v: number | null): number | null {
  return v === null ? null : Math.round(v * 1e6) / 1e6;
}

function sameContent(row: VersionRow, c: VersionContent): boolean {
  return (
    row.value === roundValue(c.value) &&
    row.source === c.source &&
    (row.method ?? undefined) === c.method &&
    (row.note ?? undefined) === c.note &&
    row.flags === JSON.stringify(c.flags)
  );
}

function toInterval(
  meter: string,
  quantity: CumulativeQuantity,
  r: VersionRow,
  billedIn?: string,
): ValidatedInterval {
  return {
    meter,
    quantity,
    start: r.start,
    end: r.end,
    value: r.value,
    source: r.source,
    ...(r.method !== null ? { method: r.method } : {}),
    flags: JSON.parse(r.flags) as VeeFlag[],
    version: r.version,
    ...(billedIn !== undefined ? { billedIn } : {}),
    ...(r.edited_by !== null ? { editedBy: r.edited_by } : {}),
    ...(r.note !== null ? { note: r.note } : {}),
  };
}

/** Versions recorded per transaction (see `record`). */
const RECORD_CHUNK = 2000;

export interface IntervalKey {
  meter: string;
  quantity: CumulativeQuantity;
  start: number;
}

export class VeeStore {
  private readonly rangeStmt;
  private readonly pinsStmt;
  private readonly latestStmt;
  private readonly insertStmt;
  private readonly pinStmt;
  private readonly versionStmt;

  constructor(readonly db: BackofficeDb) {
    db.exec(SCHEMA);
    this.rangeStmt = db.prepare<[string, string, number, number]>(
      'SELECT * FROM vee_interval_versions WHERE meter = ? AND quantity = ? AND start >= ? AND start < ? ORDER BY start, version',
    );
    this.pinsStmt = db.prepare<[string, string, number, number]>(
      'SELECT start, bill_run, version, pinned_at FROM vee_pins WHERE meter = ? AND quantity = ? AND start >= ? AND start < ? ORDER BY start, version, pinned_at',
    );
    this.latestStmt = db.prepare<[string, string, number]>(
      'SELECT * FROM vee_interval_versions WHERE meter = ? AND quantity = ? AND start = ? ORDER BY version DESC LIMIT 1',
    );
    this.versionStmt = db.prepare<[string, string, number, number]>(
      'SELECT * FROM vee_interval_versions WHERE meter = ? AND quantity = ? AND start = ? AND version = ?',
    );
    this.insertStmt = db.prepare(
      `INSERT INTO vee_interval_versions
       (meter, quantity, start, end, version, value, source, method, note, flags, edited_by, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.pinStmt = db.prepare(
      'INSERT OR IGNORE INTO vee_pins (meter, quantity, start, bill_run, version, pinned_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
  }

  /** The newest version of an interval, current or pending. */
  latest(key: IntervalKey): ValidatedInterval | undefined {
    const r = this.latestStmt.get(key.meter, key.quantity, key.start) as VersionRow | undefined;
    return r && toInterval(key.meter, key.quantity, r);
  }

  exists(key: IntervalKey, version: number): boolean {
    return this.versionStmt.get(key.meter, key.quantity, key.start, version) !== undefined;
  }

  /** Appends a version (numbered after the newest); call inside the caller's transaction with its audit entry. */
  append(meter: string, quantity: CumulativeQuantity, c: VersionContent, at: number): ValidatedInterval {
    const prev = this.latestStmt.get(meter, quantity, c.start) as VersionRow | undefined;
    this.insertVersion(meter, quantity, c, (prev?.version ?? 0) + 1, at);
    return this.current(meter, quantity, c.start, c.start + 1)[0]!;
  }

  /** Writes version `version` of an interval: values rounded as stored, flags as JSON. */
  private insertVersion(
    meter: string,
    quantity: CumulativeQuantity,
    c: VersionContent,
    version: number,
    at: number,
  ): void {
    this.insertStmt.run(
      meter,
      quantity,
      c.start,
      c.end,
      version,
      roundValue(c.value),
      c.source,
      c.method ?? null,
      c.note ?? null,
      JSON.stringify(c.flags),
      c.editedBy ?? null,
      at,
    );
  }

  /**
   * Records computed results: a new version only where the result differs from the newest
   * version and that version is not an edit. Running it twice with the same data adds nothing.
   */
  record(
    meter: string,
    quantity: CumulativeQuantity,
    results: readonly VersionContent[],
    at: number,
  ): number {
    let added = 0;
    // In transactions of RECORD_CHUNK intervals: a year of a meter is 35,000 of them, and one
    // transaction that long holds the database's other writer (the back office, when a bill run
    // or report runs on its own thread) for a quarter of a second. Each interval stands alone.
    const write = this.db.transaction((chunk: readonly VersionContent[]) => {
      for (const c of chunk) {
        const prev = this.latestStmt.get(meter, quantity, c.start) as VersionRow | undefined;
        if (prev && (prev.source === 'edited' || sameContent(prev, c))) continue;
        this.insertVersion(meter, quantity, c, (prev?.version ?? 0) + 1, at);
        added++;
      }
    });
    for (let i = 0; i < results.length; i += RECORD_CHUNK) write(results.slice(i, i + RECORD_CHUNK));
    return added;
  }

  private load(meter: string, quantity: CumulativeQuantity, from: number, to: number) {
    const rows = this.rangeStmt.all(meter, quantity, from, to) as VersionRow[];
    const pins = this.pinsStmt.all(meter, quantity, from, to) as PinRow[];
    const byStart = new Map<number, { rows: VersionRow[]; pins: PinRow[] }>();
    for (const r of rows) {
      const e = byStart.get(r.start) ?? { rows: [], pins: [] };
      e.rows.push(r);
      byStart.set(r.start, e);
    }
    for (const p of pins) byStart.get(p.start)?.pins.push(p);
    return byStart;
  }

  private static pick(e: { rows: VersionRow[]; pins: PinRow[] }): { row: VersionRow; billedIn?: string } {
    const pinned = e.pins.reduce<PinRow | undefined>(
      (best, p) =>
        !best || p.version > best.version || (p.version === best.version && p.pinned_at >= best.pinned_at)
          ? p
          : best,
      undefined,
    );
    if (pinned) return { row: e.rows.find((r) => r.version === pinned.version)!, billedIn: pinned.bill_run };
    return { row: e.rows[e.rows.length - 1]! };
  }

  /** The current version of each stored interval starting in [from, to). */
  current(meter: string, quantity: CumulativeQuantity, from: number, to: number): ValidatedInterval[] {
    const out: ValidatedInterval[] = [];
    for (const e of this.load(meter, quantity, from, to).values()) {
      const { row, billedIn } = VeeStore.pick(e);
      out.push(toInterval(meter, quantity, row, billedIn));
    }
    return out;
  }

  /** Versions newer than a pinned current version: corrections waiting for the next bill run. */
  pending(meter: string, quantity: CumulativeQuantity, from: number, to: number): ValidatedInterval[] {
    const out: ValidatedInterval[] = [];
    for (const e of this.load(meter, quantity, from, to).values()) {
      const { row } = VeeStore.pick(e);
      for (const r of e.rows) if (r.version > row.version) out.push(toInterval(meter, quantity, r));
    }
    return out;
  }

  /** Every version of one interval, oldest first. */
  versions(key: IntervalKey): ValidatedInterval[] {
    const e = this.load(key.meter, key.quantity, key.start, key.start + 1).get(key.start);
    if (!e) return [];
    return e.rows.map((r) => {
      const pin = [...e.pins].reverse().find((p) => p.version === r.version);
      return toInterval(key.meter, key.quantity, r, pin?.bill_run);
    });
  }

  /** Pins one version for a bill run; a bill run pins an interval once (the first pin stands). */
  pin(key: IntervalKey, version: number, billRun: string, at: number): void {
    this.pinStmt.run(key.meter, key.quantity, key.start, billRun, version, at);
  }
}
