import { createHash } from 'node:crypto';
import { z } from 'zod';
import { localTimeToUtc, wallClock } from '../../metering/consumption/zone.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { assertCan, assertNotSelfApproval } from '../../platform/auth/duties.ts';
import { authFail } from '../../platform/auth/errors.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import { appendOnlyTriggers, type BackofficeDb, type Clock } from '../../platform/db.ts';
import { billingError } from './errors.ts';
import {
  parseTariffTable,
  TARIFF_ERRORS,
  TariffTableSchema,
  TariffVersionSchema,
  type TariffTable,
} from './tariffs.ts';
import { fail } from '../../platform/errors.ts';

/**
 * The one source of tariffs: versions of the whole tariff table kept in the back-office database.
 * The table in force is the latest approved version; bill runs, the disclosure, prepaid sales and
 * the billing CLI all read it from here.
 *
 * A change is proposed by billing ('tariffs.edit') — a whole new table, or one new tariff version
 * with its effective date added to the table in force — and takes effect only when a second,
 * independent person approves ('tariffs.approve', a supervisor; never the proposer nor an account
 * linked to them). Every row is append-only (versions, proposals, decisions) and each step is
 * audited in the same transaction, with the SHA-256 of the table it puts in force.
 *
 * Rules a campus energy center expects of a price change:
 * - Prices already in force (today or earlier, in the table's time zone) are never rewritten: a
 *   change takes effect from a later day. Months already billed stay priced as billed, and a
 *   correction to them is priced with the prices that were in force then. Checked again at
 *   approval, since a proposal approved late could otherwise reach back.
 * - The time zone and the tier-limit rule apply to every month, billed or not: they are not
 *   changed by a proposal.
 * - A proposal is made on the version in force; if another version is approved first, approving
 *   it would silently undo that change, so it is refused (stale) and must be proposed again.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tariff_versions (
  version INTEGER PRIMARY KEY,
  table_json TEXT NOT NULL,
  digest TEXT NOT NULL,
  proposal_id INTEGER,
  requested_by TEXT NOT NULL,
  approved_by TEXT NOT NULL,
  approved_at INTEGER NOT NULL,
  source TEXT
);
${appendOnlyTriggers('tariff_versions', 'tariff versions are append-only', 'tariff_versions', ['version'])}
CREATE TABLE IF NOT EXISTS tariff_proposals (
  id INTEGER PRIMARY KEY,
  base_version INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('table', 'tariff')),
  change_json TEXT NOT NULL,
  table_json TEXT NOT NULL,
  reason TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  requested_at INTEGER NOT NULL
);
${appendOnlyTriggers('tariff_proposals', 'tariff proposals are append-only', 'tariff_proposals', ['id'])}
CREATE TABLE IF NOT EXISTS tariff_decisions (
  proposal_id INTEGER PRIMARY KEY REFERENCES tariff_proposals(id),
  decision TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
  decided_by TEXT NOT NULL,
  decided_at INTEGER NOT NULL,
  reason TEXT,
  version INTEGER
);
${appendOnlyTriggers('tariff_decisions', 'a tariff decision is final', 'tariff_decisions', ['proposal_id'])}
`;

/** What billing proposes: a whole table, or one tariff version to add to the table in force. */
export const TariffProposalInput = z
  .object({
    table: z.unknown().optional().describe('A whole tariff table (the schema of tariffs.json)'),
    tariff: z.unknown().optional().describe('One tariff version (utility, customerTypes, effectiveFrom, …)'),
    reason: z.string().trim().min(3).max(500).describe('Why, e.g. the price bureau document'),
  })
  .strict();
export type TariffProposalInput = z.infer<typeof TariffProposalInput>;

export interface TariffVersionRecord {
  version: number;
  /** The table as stored (the validated tariffs.json form, defaults filled in). */
  table: unknown;
  digest: string;
  proposal: number | null;
  requestedBy: string;
  approvedBy: string;
  approvedAt: number;
  /** For the first import: the file it came from. */
  source: string | null;
}

export type ProposalStatus = 'pending' | 'approved' | 'rejected' | 'stale';

export interface TariffProposal {
  id: number;
  baseVersion: number;
  kind: 'table' | 'tariff';
  change: unknown;
  reason: string;
  requestedBy: string;
  requestedAt: number;
  status: ProposalStatus;
  /** What would change against the version it was proposed on, one line per tariff and date. */
  changes: string[];
  decidedBy?: string;
  decidedAt?: number;
  decisionReason?: string;
  /** The version its approval put in force. */
  version?: number;
}

interface VersionRow {
  version: number;
  table_json: string;
  digest: string;
  proposal_id: number | null;
  requested_by: string;
  approved_by: string;
  approved_at: number;
  source: string | null;
}
interface ProposalRow {
  id: number;
  base_version: number;
  kind: 'table' | 'tariff';
  change_json: string;
  table_json: string;
  reason: string;
  requested_by: string;
  requested_at: number;
  decision: 'approved' | 'rejected' | null;
  decided_by: string | null;
  decided_at: number | null;
  decision_reason: string | null;
  version: number | null;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The stored form of a table: validated (names what is wrong) and with its defaults filled in. */
function normalise(input: unknown): { json: string; table: TariffTable } {
  const table = parseTariffTable(input);
  return { json: JSON.stringify(TariffTableSchema.parse(input)), table };
}

/** Each utility/customer type's versions as comparable text, keyed `utility/type@date`. */
function versionTexts(table: TariffTable): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, list] of table.versions)
    for (const v of list)
      out.set(
        `${key}@${v.effectiveFrom}`,
        JSON.stringify({ unit: v.unit, components: v.components }, (_k, x) =>
          typeof x === 'bigint' ? x.toString() : x,
        ),
      );
  return out;
}

/** What `next` changes against `base`: added, removed or changed tariff versions. */
export function tariffChanges(base: TariffTable, next: TariffTable): string[] {
  const a = versionTexts(base);
  const b = versionTexts(next);
  const out: string[] = [];
  for (const k of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const [what, from] = k.split('@') as [string, string];
    if (!a.has(k)) out.push(`${what} from ${from}: added`);
    else if (!b.has(k)) out.push(`${what} from ${from}: removed`);
    else if (a.get(k) !== b.get(k)) out.push(`${what} from ${from}: changed`);
  }
  return out;
}

export interface TariffStoreOptions {
  db: BackofficeDb;
  audit: AuditLog;
  clock?: Clock;
}

export class TariffStore {
  private readonly db: BackofficeDb;
  private readonly audit: AuditLog;
  private readonly clock: Clock;
  /** The compiled table of the latest version, so callers in a row get the same object. */
  private cached: { version: number; table: TariffTable } | undefined;

  constructor(o: TariffStoreOptions) {
    this.db = o.db;
    this.audit = o.audit;
    this.clock = o.clock ?? Date.now;
    this.db.exec(SCHEMA);
  }

  /** The number of the version in force, or 0 when none was imported yet. */
  currentVersion(): number {
    const row = this.db.prepare('SELECT MAX(version) AS v FROM tariff_versions').get() as {
      v: number | null;
    };
    return row.v ?? 0;
  }

  /** The table in force: the latest approved version. NO_TARIFFS before the first import. */
  current(): TariffTable {
    const version = this.currentVersion();
    if (version === 0) {
      billingError(
        'NO_TARIFFS',
        'no tariff version in the back office: start the back office once (it imports tariffs.json next to the campus file)',
      );
    }
    if (this.cached?.version !== version) {
      this.cached = { version, table: parseTariffTable(JSON.parse(this.row(version).table_json)) };
    }
    return this.cached.table;
  }

  /** True when `input` is, once validated, exactly the table in force. */
  isInForce(input: unknown): boolean {
    const version = this.currentVersion();
    return version !== 0 && normalise(input).json === this.row(version).table_json;
  }

  /** Every version, newest first. */
  versions(): TariffVersionRecord[] {
    const rows = this.db.prepare('SELECT * FROM tariff_versions ORDER BY version DESC').all() as VersionRow[];
    return rows.map(toRecord);
  }

  version(n: number): TariffVersionRecord {
    return toRecord(this.row(n));
  }

  /**
   * The first start: when the store holds no version, `input` (tariffs.json, or the demo's example)
   * becomes version 1, audited as `system:import`. Returns the version made, or null when the store
   * already had one (the file is then not read into it again).
   */
  importInitial(input: unknown, source: string): number | null {
    const { json } = normalise(input);
    return this.db.transaction(() => {
      if (this.currentVersion() !== 0) return null;
      const digest = sha256(json);
      const at = this.clock();
      this.db
        .prepare(
          `INSERT INTO tariff_versions (version, table_json, digest, proposal_id, requested_by, approved_by, approved_at, source)
           VALUES (1, ?, ?, NULL, 'system:import', 'system:import', ?, ?)`,
        )
        .run(json, digest, at, source);
      this.audit.append({
        actor: 'system:import',
        action: 'tariffs.import',
        subject: 'tariff-version:1',
        after: { version: 1, source, digest },
        reason: 'first start: no tariff version in the back office',
      });
      return 1;
    })();
  }

  /** Billing proposes a change; nothing takes effect until another person approves it. */
  propose(actor: Actor, input: TariffProposalInput): TariffProposal {
    assertCan(actor, 'tariffs.edit', 'propose a tariff change');
    if (actor.kind !== 'user')
      authFail('PERSON_REQUIRED', `${actor.id} is an API token; only a person may propose a tariff change`);
    const parsed = TariffProposalInput.safeParse(input);
    if (!parsed.success) fail(TARIFF_ERRORS, 'INVALID_TARIFF_TABLE', z.prettifyError(parsed.error));
    const { table, tariff, reason } = parsed.data;
    if ((table === undefined) === (tariff === undefined)) {
      fail(
        TARIFF_ERRORS,
        'INVALID_TARIFF_TABLE',
        'give either a whole table or one tariff, not both or neither',
      );
    }
    const baseVersion = this.currentVersion();
    const base = this.current();
    const baseInput = JSON.parse(this.row(baseVersion).table_json) as z.output<typeof TariffTableSchema>;
    let nextInput: unknown = table;
    if (tariff !== undefined) {
      const one = TariffVersionSchema.safeParse(tariff);
      if (!one.success) fail(TARIFF_ERRORS, 'INVALID_TARIFF_TABLE', `tariff: ${z.prettifyError(one.error)}`);
      nextInput = { ...baseInput, tariffs: [...baseInput.tariffs, one.data] };
    }
    const next = normalise(nextInput);
    this.assertNothingInForceChanges(base, next.table);
    const changes = tariffChanges(base, next.table);
    if (changes.length === 0)
      fail(TARIFF_ERRORS, 'INVALID_TARIFF_TABLE', 'the proposed table changes no price');
    const kind = tariff !== undefined ? 'tariff' : 'table';
    const change = tariff !== undefined ? TariffVersionSchema.parse(tariff) : JSON.parse(next.json);
    const id = this.db.transaction(() => {
      const at = this.clock();
      const info = this.db
        .prepare(
          `INSERT INTO tariff_proposals (base_version, kind, change_json, table_json, reason, requested_by, requested_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(baseVersion, kind, JSON.stringify(change), next.json, reason, actor.id, at);
      const id = Number(info.lastInsertRowid);
      this.audit.append({
        actor: actor.id,
        action: 'tariffs.propose',
        subject: `tariff-proposal:${id}`,
        after: { baseVersion, kind, change, changes, digest: sha256(next.json) },
        reason,
      });
      return id;
    })();
    return this.proposal(id);
  }

  /** A second, independent person approves: the proposed table becomes the next version. */
  approve(actor: Actor, id: number): { version: number; proposal: TariffProposal } {
    assertCan(actor, 'tariffs.approve', 'approve a tariff change');
    const p = this.proposalRow(id);
    if (p.decision)
      billingError('TARIFF_PROPOSAL_DECIDED', `tariff proposal ${id} was ${p.decision} already`);
    assertNotSelfApproval(p.requested_by, actor, 'approve it', { db: this.db, now: this.clock() });
    const version = this.db.transaction(() => {
      const current = this.currentVersion();
      if (current !== p.base_version) {
        billingError(
          'TARIFF_PROPOSAL_STALE',
          `tariff proposal ${id} was made on version ${p.base_version}, but version ${current} has been approved since: approving it would undo that change; propose it again`,
        );
      }
      const next = parseTariffTable(JSON.parse(p.table_json));
      this.assertNothingInForceChanges(this.current(), next);
      const version = current + 1;
      const at = this.clock();
      const digest = sha256(p.table_json);
      this.db
        .prepare(
          `INSERT INTO tariff_versions (version, table_json, digest, proposal_id, requested_by, approved_by, approved_at, source)
           VALUES (?, ?, ?, ?, ?, ?, ?, NULL)`,
        )
        .run(version, p.table_json, digest, id, p.requested_by, actor.id, at);
      this.db
        .prepare(
          `INSERT INTO tariff_decisions (proposal_id, decision, decided_by, decided_at, reason, version)
           VALUES (?, 'approved', ?, ?, NULL, ?)`,
        )
        .run(id, actor.id, at, version);
      this.audit.append({
        actor: actor.id,
        action: 'tariffs.approve',
        subject: `tariff-proposal:${id}`,
        before: { version: current },
        after: { version, requestedBy: p.requested_by, digest },
      });
      return version;
    })();
    return { version, proposal: this.proposal(id) };
  }

  /**
   * Refused by a supervisor ('tariffs.approve'), or withdrawn by the person who proposed it. A
   * refusal changes no price, so it needs no second person.
   */
  reject(actor: Actor, id: number, reason: string): TariffProposal {
    const p = this.proposalRow(id);
    const withdraw = actor.id.toLowerCase() === p.requested_by.toLowerCase();
    if (!withdraw) assertCan(actor, 'tariffs.approve', 'reject a tariff change');
    if (p.decision)
      billingError('TARIFF_PROPOSAL_DECIDED', `tariff proposal ${id} was ${p.decision} already`);
    const why = reason.trim();
    if (why.length < 3) fail(TARIFF_ERRORS, 'INVALID_TARIFF_TABLE', 'a rejection needs a reason');
    this.db.transaction(() => {
      const at = this.clock();
      this.db
        .prepare(
          `INSERT INTO tariff_decisions (proposal_id, decision, decided_by, decided_at, reason, version)
           VALUES (?, 'rejected', ?, ?, ?, NULL)`,
        )
        .run(id, actor.id, at, why);
      this.audit.append({
        actor: actor.id,
        action: withdraw ? 'tariffs.withdraw' : 'tariffs.reject',
        subject: `tariff-proposal:${id}`,
        reason: why,
      });
    })();
    return this.proposal(id);
  }

  /** Proposals, newest first; `status` filters. */
  proposals(status?: ProposalStatus): TariffProposal[] {
    const rows = this.db.prepare(`${PROPOSAL_SELECT} ORDER BY p.id DESC`).all() as ProposalRow[];
    const current = this.currentVersion();
    return rows.map((r) => this.toProposal(r, current)).filter((p) => !status || p.status === status);
  }

  proposal(id: number): TariffProposal {
    return this.toProposal(this.proposalRow(id), this.currentVersion());
  }

  private row(version: number): VersionRow {
    const row = this.db.prepare('SELECT * FROM tariff_versions WHERE version = ?').get(version) as
      VersionRow | undefined;
    if (!row) billingError('NO_TARIFFS', `no tariff version ${version}`);
    return row;
  }

  private proposalRow(id: number): ProposalRow {
    const row = this.db.prepare(`${PROPOSAL_SELECT} WHERE p.id = ?`).get(id) as ProposalRow | undefined;
    if (!row) billingError('TARIFF_PROPOSAL_NOT_FOUND', `no tariff proposal ${id}`);
    return row;
  }

  private toProposal(r: ProposalRow, current: number): TariffProposal {
    const status: ProposalStatus = r.decision ?? (r.base_version === current ? 'pending' : 'stale');
    const base = parseTariffTable(JSON.parse(this.row(r.base_version).table_json));
    return {
      id: r.id,
      baseVersion: r.base_version,
      kind: r.kind,
      change: JSON.parse(r.change_json),
      reason: r.reason,
      requestedBy: r.requested_by,
      requestedAt: r.requested_at,
      status,
      changes: tariffChanges(base, parseTariffTable(JSON.parse(r.table_json))),
      ...(r.decided_by ? { decidedBy: r.decided_by } : {}),
      ...(r.decided_at !== null ? { decidedAt: r.decided_at } : {}),
      ...(r.decision_reason ? { decisionReason: r.decision_reason } : {}),
      ...(r.version !== null ? { version: r.version } : {}),
    };
  }

  /**
   * Prices in force today or earlier, the time zone and the tier-limit rule stay as they are: a
   * change takes effect from tomorrow (the table's time zone) at the earliest.
   */
  private assertNothingInForceChanges(base: TariffTable, next: TariffTable): void {
    if (next.timezone !== base.timezone) {
      billingError(
        'TARIFF_CHANGE_IN_PAST',
        `the time zone is ${base.timezone} and cannot be changed by a tariff change`,
      );
    }
    if ((next.tierLimitsWithinMonth ?? 'cumulative') !== (base.tierLimitsWithinMonth ?? 'cumulative')) {
      billingError(
        'TARIFF_CHANGE_IN_PAST',
        `tierLimitsWithinMonth is ${base.tierLimitsWithinMonth ?? 'cumulative'}; it applies to months already billed and cannot be changed by a tariff change`,
      );
    }
    const w = wallClock(this.clock(), base.timezone);
    const tomorrow = localTimeToUtc(base.timezone, w.year, w.month, w.day + 1);
    const inForce = (t: TariffTable) => {
      const out = new Map<string, string>();
      const texts = versionTexts(t);
      for (const [key, list] of t.versions)
        for (const v of list)
          if (v.from < tomorrow)
            out.set(`${key}@${v.effectiveFrom}`, texts.get(`${key}@${v.effectiveFrom}`)!);
      return out;
    };
    const a = inForce(base);
    const b = inForce(next);
    for (const k of [...new Set([...a.keys(), ...b.keys()])].sort()) {
      if (a.get(k) !== b.get(k)) {
        const [what, from] = k.split('@') as [string, string];
        const today = `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
        billingError(
          'TARIFF_CHANGE_IN_PAST',
          `${what} from ${from} is in force already (today is ${today}) and would be ${!a.has(k) ? 'added' : !b.has(k) ? 'removed' : 'changed'}: a tariff change takes effect from a later day`,
        );
      }
    }
  }
}

const PROPOSAL_SELECT = `SELECT p.*, d.decision, d.decided_by, d.decided_at, d.reason AS decision_reason, d.version
  FROM tariff_proposals p LEFT JOIN tariff_decisions d ON d.proposal_id = p.id`;

function toRecord(r: VersionRow): TariffVersionRecord {
  return {
    version: r.version,
    table: JSON.parse(r.table_json),
    digest: r.digest,
    proposal: r.proposal_id,
    requestedBy: r.requested_by,
    approvedBy: r.approved_by,
    approvedAt: r.approved_at,
    source: r.source,
  };
}

/**
 * A TariffTable that is always the one in force: for services built once at start that price
 * with a table (prepaid sales), so an approved change reaches them without a restart.
 */
export function liveTariffs(store: TariffStore): TariffTable {
  return {
    get timezone() {
      return store.current().timezone;
    },
    get tierLimitsWithinMonth() {
      return store.current().tierLimitsWithinMonth;
    },
    get versions() {
      return store.current().versions;
    },
  };
}
