/** A fault suite's figures for one fault: the readings the gateway numbered while it ran, and what of them the store holds. */
export interface FaultCount {
  numbered: number;
  /** Distinct (meter, seq) of those in the store. */
  stored: number;
  lost: number;
  /** Rows beyond one per (meter, seq). */
  duplicated: number;
}

export interface StoredSeqRow {
  meter: string;
  seq: number;
}

/**
 * Runs `fault`, waits `settleMs`, and counts the seqs the gateway numbered meanwhile (its outbox
 * per meter, before and after) against what the store holds of exactly those: waiting up to
 * `waitMs` for all of them (a replay takes seconds), then counting what is there. The fault suites
 * on mosquitto, InfluxDB and the embedded broker each count this way.
 */
export async function countFault(
  fault: () => Promise<void>,
  numbered: () => Map<string, number>,
  stored: () => Promise<readonly StoredSeqRow[]> | readonly StoredSeqRow[],
  { settleMs, waitMs }: { settleMs: number; waitMs: number },
): Promise<FaultCount> {
  const before = numbered();
  await fault();
  await new Promise((r) => setTimeout(r, settleMs));
  const after = numbered();
  let total = 0;
  for (const [m, n] of after) total += n - (before.get(m) ?? 0);
  const count = async () => {
    const rows = (await stored()).filter(
      (r) => r.seq > (before.get(r.meter) ?? 0) && r.seq <= (after.get(r.meter) ?? 0),
    );
    return { rows: rows.length, distinct: new Set(rows.map((r) => `${r.meter}#${r.seq}`)).size };
  };
  const deadline = Date.now() + waitMs;
  let c = await count().catch(() => ({ rows: 0, distinct: 0 }));
  while (c.distinct < total && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    c = await count().catch(() => c);
  }
  return { numbered: total, stored: c.distinct, lost: total - c.distinct, duplicated: c.rows - c.distinct };
}

/** A suite's rows as the table it prints: `fault | numbered | stored | lost | duplicated [| …]`. */
export function faultTable(title: string, rows: readonly (FaultCount & { fault: string })[]): string {
  const extra = rows[0] ? Object.keys(rows[0]).filter((k) => !BASE_COLUMNS.includes(k)) : [];
  const columns = [...BASE_COLUMNS, ...extra];
  return [
    [title, ...columns.slice(1)].join(' | '),
    ...rows.map((r) => columns.map((c) => String((r as unknown as Record<string, unknown>)[c])).join(' | ')),
  ].join('\n');
}
const BASE_COLUMNS = ['fault', 'numbered', 'stored', 'lost', 'duplicated'];
