import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { assertCan } from '../../platform/auth/duties.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import type { ReadingStore } from '../../metering/storage.ts';
import type { HeatingDesk } from './desk.ts';
import { weightedDraw } from './draw.ts';
import { heatingError } from './errors.ts';
import { heatEvidence } from './evidence.ts';

/**
 * The inspectors' spot checks of stopped units (DOMAIN.md: the stop "is reported to the inspection
 * department so that it can spot-check"). A list is drawn at random from the units registered
 * stopped now, each weighted by its heat meter's evidence since the lock (evidence.ts), with a
 * seed that is recorded with every candidate's weight: anyone can recompute the list (`verify`),
 * and an inspector cannot quietly leave a friend's unit off it. What was found on site is recorded
 * per unit. Every draw and finding is audited.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS heating_spot_checks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  data TEXT NOT NULL
);
`;

export const FINDINGS = ['locked-intact', 'tampered', 'heating-in-use', 'no-access'] as const;
export type Finding = (typeof FINDINGS)[number];

export interface SpotCheckCandidate {
  unit: string;
  /** When its valve was locked (the registration's start). */
  from: number;
  workOrder: string;
  energyKwh: number | null;
  flowShare: number | null;
  weight: number;
}

export interface SpotCheck {
  id: number;
  drawnBy: string;
  drawnAt: number;
  seed: string;
  size: number;
  /** How far back the evidence was read (from the lock at the earliest). */
  windowMs: number;
  candidates: SpotCheckCandidate[];
  drawn: string[];
  findings: { unit: string; outcome: Finding; note: string | null; by: string; at: number }[];
}

export interface SpotChecksDeps {
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  store: ReadingStore;
  desk: HeatingDesk;
}

const DAY = 86_400_000;

export class SpotChecks {
  constructor(private readonly d: SpotChecksDeps) {
    d.db.exec(SCHEMA);
  }

  async draw(actor: Actor, input: { size: number; windowDays?: number; seed?: string }): Promise<SpotCheck> {
    assertCan(actor, 'heating.spot-check', 'draw a heating spot-check list');
    if (!Number.isSafeInteger(input.size) || input.size < 1)
      heatingError('INVALID_APPLICATION', `the list size ${input.size} is not a whole positive number`);
    const now = this.d.clock();
    const windowMs = (input.windowDays ?? 7) * DAY;
    const stopped = this.d.desk
      .registrations()
      .filter((r) => r.from <= now && (r.to === undefined || r.to > now));
    if (stopped.length === 0) heatingError('NO_STOPPED_UNITS', 'no unit is registered stopped now');
    const windows = new Map(
      stopped.map((r) => [r.meter, { from: Math.max(r.from, now - windowMs), to: now }]),
    );
    const evidence = await heatEvidence(this.d.store, [...windows.keys()], windows);
    const candidates = stopped.map((r) => ({
      ...{ unit: r.meter, from: r.from, workOrder: r.workOrder },
      ...evidence.get(r.meter)!,
    }));
    const seed = input.seed ?? randomBytes(8).toString('hex');
    const drawn = weightedDraw(
      candidates.map((c) => ({ id: c.unit, weight: c.weight })),
      input.size,
      seed,
    );
    const check: Omit<SpotCheck, 'id'> = {
      ...{ drawnBy: actor.id, drawnAt: now, seed, size: input.size, windowMs },
      ...{ candidates, drawn, findings: [] },
    };
    return this.d.db.transaction(() => {
      const id = Number(
        this.d.db.prepare('INSERT INTO heating_spot_checks (data) VALUES (?)').run(JSON.stringify(check))
          .lastInsertRowid,
      );
      this.d.audit.append({
        actor: actor.id,
        action: 'heating.spot-check-draw',
        subject: `heating-spot-check:${id}`,
        after: { seed, size: input.size, candidates: candidates.map((c) => [c.unit, c.weight]), drawn },
      });
      return this.get(id);
    })();
  }

  /** What an inspector found at one drawn unit. */
  record(
    actor: Actor,
    id: number,
    input: { unit: string; outcome: Finding; note?: string | undefined },
  ): SpotCheck {
    assertCan(actor, 'heating.spot-check', 'record a spot-check finding');
    const c = this.get(id);
    if (!c.drawn.includes(input.unit))
      heatingError('INVALID_APPLICATION', `${input.unit} is not on spot-check list ${id}`);
    if (!(FINDINGS as readonly string[]).includes(input.outcome))
      heatingError(
        'INVALID_APPLICATION',
        `the outcome ${input.outcome} is not one of ${FINDINGS.join(', ')}`,
      );
    const finding = {
      unit: input.unit,
      outcome: input.outcome,
      note: input.note?.trim() || null,
      by: actor.id,
      at: this.d.clock(),
    };
    const { id: _id, ...before } = c;
    const next = { ...before, findings: [...c.findings, finding] };
    return this.d.db.transaction(() => {
      const r = this.d.db
        .prepare('UPDATE heating_spot_checks SET data = ? WHERE id = ? AND data = ?')
        .run(JSON.stringify(next), id, JSON.stringify(before));
      if (r.changes !== 1) heatingError('SPOT_CHECK_NOT_FOUND', `spot-check list ${id} changed meanwhile`);
      this.d.audit.append({
        actor: actor.id,
        action: 'heating.spot-check-finding',
        subject: `heating-spot-check:${id}`,
        after: finding,
      });
      return this.get(id);
    })();
  }

  /** Whether the recorded list is what its seed and weights draw. */
  verify(id: number): { matches: boolean; recomputed: string[] } {
    const c = this.get(id);
    const recomputed = weightedDraw(
      c.candidates.map((x) => ({ id: x.unit, weight: x.weight })),
      c.size,
      c.seed,
    );
    return { matches: JSON.stringify(recomputed) === JSON.stringify(c.drawn), recomputed };
  }

  get(id: number): SpotCheck {
    const r = this.d.db.prepare('SELECT id, data FROM heating_spot_checks WHERE id = ?').get(id) as
      { id: number; data: string } | undefined;
    if (!r) heatingError('SPOT_CHECK_NOT_FOUND', `no spot-check list ${id}`);
    return { id: r.id, ...(JSON.parse(r.data) as Omit<SpotCheck, 'id'>) };
  }

  list(): SpotCheck[] {
    const ids = this.d.db
      .prepare('SELECT id FROM heating_spot_checks ORDER BY id DESC')
      .pluck()
      .all() as number[];
    return ids.map((id) => this.get(id));
  }
}
