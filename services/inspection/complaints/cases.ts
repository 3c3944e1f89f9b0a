import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { assertCan } from '../../platform/auth/duties.ts';
import { can, type Actor, type Role } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { inputProblems } from '../../platform/input-problems.ts';
import { wallClock } from '../../metering/consumption/zone.ts';
import { complaintsError } from './errors.ts';
import {
  AssignSchema,
  CloseSchema,
  IntakeSchema,
  LinkSchema,
  type CaseKind,
  type Channel,
  type IntakeInput,
  type LinkInput,
  type LinkKind,
  type ListFilter,
  type Outcome,
} from './schema.ts';
import {
  cleanIdentity,
  commitmentOf,
  seal,
  tipsterView,
  type TipsterIdentity,
  type TipsterView,
} from './tipster.ts';

/**
 * Complaints and tips (DOMAIN.md "Inspection"): recorded by the inspection department's dedicated
 * staff from the hotline and the box, or taken from the mail drop; numbered per year (TS-2026-0001),
 * assigned to one of that staff, linked to alerts, accounts, meters and the inspectors sent to
 * look, and closed with an outcome. A tipster may ask to stay anonymous: then the identity is
 * readable only through `tipster()` by the complaints staff, and that read is itself audited.
 * Every step is one transaction with its audit entry; no audit entry holds an identity.
 */

export type CaseState = 'open' | 'assigned' | 'closed';

export interface CaseLink {
  kind: LinkKind;
  ref: string;
  note: string | null;
  by: string;
  at: number;
}

export interface CaseStep {
  action: string;
  by: string;
  at: number;
  note?: string;
}

/** A case as stored (the identity is not in it). */
export interface StoredCase {
  number: string;
  kind: CaseKind;
  channel: Channel;
  receivedAt: number;
  box: string | null;
  boxOpenedOn: string | null;
  summary: string;
  details: string;
  anonymous: boolean;
  hasIdentity: boolean;
  /** SHA-256 over the salt and the identity: the audit log's only trace of who tipped. */
  identityCommitment: string | null;
  /** An email the mail drop could not read: kept, raw, and flagged with why. */
  flag: string | null;
  mail: { file: string; sha256: string; messageId: string | null; subject: string | null } | null;
  state: CaseState;
  assignee: string | null;
  links: CaseLink[];
  outcome: Outcome | null;
  outcomeNote: string | null;
  recordedBy: string;
  recordedAt: number;
  closedBy: string | null;
  closedAt: number | null;
  steps: CaseStep[];
}

/** A case as one reader sees it. */
export interface CaseView extends Omit<StoredCase, 'details' | 'mail' | 'identityCommitment'> {
  id: number;
  /** The tipster's words; withheld ('') from all but the complaints staff when anonymous (they may name the tipster). */
  details: string;
  mail: { messageId: string | null; subject: string | null } | null;
  tipster: TipsterView;
}

export interface StaffMember {
  roles: readonly Role[];
  disabled: boolean;
}

export interface ComplaintsDeps {
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  timezone: string;
  /** A back-office user by name, to check who a case is assigned to or an inspector sent. */
  staff: (username: string) => StaffMember | null;
  /** The alert's assignee ('' when none), or null when there is no such alert. */
  alert: (id: number) => { assignee: string } | null;
  /** Whether a prepaid or post-paid account has this id (money is not this group's to import). */
  accountExists: (id: string) => boolean;
  meterExists: (id: string) => boolean;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS complaint_cases (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  number TEXT NOT NULL UNIQUE,
  year INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  data TEXT NOT NULL,
  UNIQUE (year, seq)
);
CREATE TABLE IF NOT EXISTS complaint_tipsters (
  case_id INTEGER PRIMARY KEY REFERENCES complaint_cases(id),
  identity TEXT NOT NULL,
  salt TEXT NOT NULL
);
`;

export interface NewCase {
  kind: CaseKind;
  channel: Channel;
  receivedAt: number;
  box?: string | null;
  boxOpenedOn?: string | null;
  summary: string;
  details: string;
  anonymous: boolean;
  tipster?: TipsterIdentity | null;
  flag?: string | null;
  mail?: StoredCase['mail'];
}

export class Complaints {
  constructor(private readonly d: ComplaintsDeps) {
    d.db.exec(SCHEMA);
  }

  /** A hotline call or a box note, typed by the complaints staff. */
  intake(actor: Actor, input: IntakeInput): CaseView {
    assertCan(actor, 'complaints.record', 'record a complaint or tip');
    const parsed = IntakeSchema.safeParse(input);
    if (!parsed.success) complaintsError('INVALID_CASE', inputProblems(parsed.error));
    const i = parsed.data;
    const now = this.d.clock();
    if (i.channel === 'box' && (!i.box || !i.boxOpenedOn))
      complaintsError('INVALID_CASE', 'a box case needs the box and the date it was emptied (boxOpenedOn)');
    if (i.channel === 'box' && !validDate(i.boxOpenedOn!))
      complaintsError('INVALID_CASE', `boxOpenedOn ${i.boxOpenedOn} is not a calendar date`);
    if (i.channel === 'box' && i.boxOpenedOn! > this.localDate(now))
      complaintsError('INVALID_CASE', `boxOpenedOn ${i.boxOpenedOn} is in the future`);
    if (i.receivedAt !== undefined && i.receivedAt > now)
      complaintsError('INVALID_CASE', 'receivedAt is in the future');
    if (i.channel === 'hotline' && (i.box || i.boxOpenedOn))
      complaintsError('INVALID_CASE', 'a hotline case has no box');
    const created = this.create(actor.id, {
      ...i,
      receivedAt: i.receivedAt ?? now,
      box: i.box ?? null,
      boxOpenedOn: i.boxOpenedOn ?? null,
    });
    return this.view(actor, this.load(created));
  }

  /**
   * Records a case in one transaction: its yearly number, the identity sealed apart, the audit
   * entry. `extra` runs inside the same transaction (the mail drop marks its message taken there).
   */
  create(by: string, c: NewCase, extra?: (id: number) => void): number {
    const now = this.d.clock();
    const identity = cleanIdentity(c.tipster ?? undefined);
    const sealed = identity ? seal(identity) : null;
    return this.d.db.transaction(() => {
      const year = wallClock(c.receivedAt, this.d.timezone).year;
      const last = this.d.db
        .prepare('SELECT MAX(seq) AS seq FROM complaint_cases WHERE year = ?')
        .get(year) as {
        seq: number | null;
      };
      const seq = (last.seq ?? 0) + 1;
      const number = `TS-${year}-${String(seq).padStart(4, '0')}`;
      const stored: StoredCase = {
        ...{ number, kind: c.kind, channel: c.channel, receivedAt: c.receivedAt },
        ...{ box: c.box ?? null, boxOpenedOn: c.boxOpenedOn ?? null, summary: c.summary, details: c.details },
        ...{ anonymous: c.anonymous, hasIdentity: !!sealed, identityCommitment: sealed?.commitment ?? null },
        ...{ flag: c.flag ?? null, mail: c.mail ?? null, state: 'open', assignee: null, links: [] },
        ...{
          outcome: null,
          outcomeNote: null,
          recordedBy: by,
          recordedAt: now,
          closedBy: null,
          closedAt: null,
        },
        steps: [{ action: 'record', by, at: now }],
      };
      const id = Number(
        this.d.db
          .prepare('INSERT INTO complaint_cases (number, year, seq, data) VALUES (?, ?, ?, ?)')
          .run(number, year, seq, JSON.stringify(stored)).lastInsertRowid,
      );
      if (sealed)
        this.d.db
          .prepare('INSERT INTO complaint_tipsters (case_id, identity, salt) VALUES (?, ?, ?)')
          .run(id, JSON.stringify(sealed.identity), sealed.salt);
      extra?.(id);
      this.d.audit.append({
        actor: by,
        action: 'complaint.record',
        subject: `complaint:${number}`,
        after: auditable(stored),
      });
      return id;
    })();
  }

  assign(actor: Actor, ref: string | number, input: { to: string }): CaseView {
    assertCan(actor, 'complaints.record', 'assign a complaint or tip');
    const { to } = AssignSchema.parse(input);
    const staff = this.d.staff(to);
    if (!staff || staff.disabled || !staff.roles.includes('complaints'))
      complaintsError('NOT_COMPLAINTS_STAFF', `${to} is not an enabled user of the complaints staff`);
    const c = this.load(ref);
    return this.update(actor, c, 'assign', { state: 'assigned', assignee: to }, to);
  }

  link(actor: Actor, ref: string | number, input: LinkInput): CaseView {
    assertCan(actor, 'complaints.record', 'link a complaint or tip');
    const l = LinkSchema.parse(input);
    this.checkTarget(l.kind, l.ref);
    const c = this.load(ref);
    if (c.links.some((x) => x.kind === l.kind && x.ref === l.ref))
      complaintsError('LINK_EXISTS', `${c.number} is already linked to ${l.kind} ${l.ref}`);
    const link: CaseLink = {
      kind: l.kind,
      ref: l.ref,
      note: l.note ?? null,
      by: actor.id,
      at: this.d.clock(),
    };
    return this.update(actor, c, 'link', { links: [...c.links, link] }, `${l.kind} ${l.ref}`);
  }

  unlink(actor: Actor, ref: string | number, input: { kind: LinkKind; ref: string }): CaseView {
    assertCan(actor, 'complaints.record', 'unlink a complaint or tip');
    const c = this.load(ref);
    const links = c.links.filter((x) => !(x.kind === input.kind && x.ref === input.ref));
    if (links.length === c.links.length)
      complaintsError('LINK_NOT_FOUND', `${c.number} is not linked to ${input.kind} ${input.ref}`);
    return this.update(actor, c, 'unlink', { links }, `${input.kind} ${input.ref}`);
  }

  close(actor: Actor, ref: string | number, input: { outcome: Outcome; note: string }): CaseView {
    assertCan(actor, 'complaints.record', 'close a complaint or tip');
    const i = CloseSchema.parse(input);
    const c = this.load(ref);
    const now = this.d.clock();
    return this.update(
      actor,
      c,
      'close',
      { state: 'closed', outcome: i.outcome, outcomeNote: i.note, closedBy: actor.id, closedAt: now },
      i.note,
    );
  }

  /** The tipster's identity: the complaints staff only, each read audited (never with the identity). */
  tipster(actor: Actor, ref: string | number): TipsterView & { commitmentHolds: boolean | null } {
    assertCan(actor, 'complaints.identity', "read a tipster's identity");
    const c = this.load(ref);
    const row = this.d.db
      .prepare('SELECT identity, salt FROM complaint_tipsters WHERE case_id = ?')
      .get(c.id) as { identity: string; salt: string } | undefined;
    const identity = row ? (JSON.parse(row.identity) as TipsterIdentity) : null;
    this.d.audit.append({
      actor: actor.id,
      action: 'complaint.tipster-read',
      subject: `complaint:${c.number}`,
    });
    const holds =
      row && c.identityCommitment ? commitmentOf(identity!, row.salt) === c.identityCommitment : null;
    return { ...tipsterView(false, identity, true), anonymous: c.anonymous, commitmentHolds: holds };
  }

  get(actor: Actor, ref: string | number): CaseView {
    const c = this.load(ref);
    if (!can(actor, 'complaints.view')) {
      assertCan(actor, 'complaints.linked', 'read a complaint or tip');
      if (!this.linkedTo(c, actor.id))
        complaintsError('NOT_LINKED', `${c.number} is not linked to ${actor.id}`);
    }
    return this.view(actor, c);
  }

  /** Cases newest first: every case for the desk and supervisors, the linked ones for an inspector. */
  list(actor: Actor, filter: ListFilter = {}): CaseView[] {
    const all = can(actor, 'complaints.view');
    if (!all) assertCan(actor, 'complaints.linked', 'read complaints and tips');
    const rows = this.d.db.prepare('SELECT id, data FROM complaint_cases ORDER BY id DESC').all() as Row[];
    const words = (filter.q ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    return rows
      .map(toCase)
      .filter((c) => all || this.linkedTo(c, actor.id))
      .filter((c) => !filter.state || c.state === filter.state)
      .filter((c) => !filter.channel || c.channel === filter.channel)
      .filter((c) => filter.flagged === undefined || (filter.flagged === 'true') === (c.flag !== null))
      .map((c) => this.view(actor, c))
      .filter((v) => words.every((w) => searchText(v).includes(w)));
  }

  /** Whether an inspector is sent to the case or holds an alert linked to it. */
  private linkedTo(c: StoredCase & { id: number }, user: string): boolean {
    return c.links.some(
      (l) =>
        (l.kind === 'inspection' && l.ref === user) ||
        (l.kind === 'alert' && this.d.alert(Number(l.ref))?.assignee === user),
    );
  }

  private checkTarget(kind: LinkKind, ref: string): void {
    const ok =
      kind === 'alert'
        ? /^[1-9][0-9]{0,15}$/.test(ref) && this.d.alert(Number(ref)) !== null
        : kind === 'account'
          ? this.d.accountExists(ref)
          : kind === 'meter'
            ? this.d.meterExists(ref)
            : isInspector(this.d.staff(ref));
    if (!ok)
      complaintsError(
        'LINK_TARGET_UNKNOWN',
        `there is no ${kind === 'inspection' ? 'enabled inspector' : kind} ${ref}`,
      );
  }

  private view(actor: Actor, c: StoredCase & { id: number }): CaseView {
    const { identityCommitment: _c, mail, ...rest } = c;
    const staff = can(actor, 'complaints.identity');
    let identity: TipsterIdentity | null = null;
    if (!c.anonymous && c.hasIdentity) {
      const row = this.d.db.prepare('SELECT identity FROM complaint_tipsters WHERE case_id = ?').get(c.id) as
        { identity: string } | undefined;
      identity = row ? (JSON.parse(row.identity) as TipsterIdentity) : null;
    }
    return {
      ...rest,
      details: c.anonymous && !staff ? '' : c.details,
      mail: mail ? { messageId: c.anonymous && !staff ? null : mail.messageId, subject: mail.subject } : null,
      tipster: tipsterView(c.anonymous, identity, false),
    };
  }

  private load(ref: string | number): StoredCase & { id: number } {
    const row = (
      typeof ref === 'number'
        ? this.d.db.prepare('SELECT id, data FROM complaint_cases WHERE id = ?').get(ref)
        : this.d.db.prepare('SELECT id, data FROM complaint_cases WHERE number = ?').get(ref.toUpperCase())
    ) as Row | undefined;
    if (!row) complaintsError('CASE_NOT_FOUND', `no complaint or tip ${ref}`);
    return toCase(row);
  }

  private update(
    actor: Actor,
    c: StoredCase & { id: number },
    action: string,
    change: Partial<StoredCase>,
    note: string,
  ): CaseView {
    if (c.state === 'closed') complaintsError('CASE_CLOSED', `${c.number} is closed (${c.outcome})`);
    const { id, ...before } = c;
    const now = this.d.clock();
    const next: StoredCase = {
      ...before,
      ...change,
      steps: [...c.steps, { action, by: actor.id, at: now, note }],
    };
    this.d.db.transaction(() => {
      const r = this.d.db
        .prepare('UPDATE complaint_cases SET data = ? WHERE id = ? AND data = ?')
        .run(JSON.stringify(next), id, JSON.stringify(before));
      if (r.changes !== 1) complaintsError('CASE_CHANGED', `${c.number} changed meanwhile`);
      this.d.audit.append({
        actor: actor.id,
        action: `complaint.${action}`,
        subject: `complaint:${c.number}`,
        before: { state: c.state, assignee: c.assignee, links: c.links.length },
        after: {
          ...change,
          ...(change.links ? { links: change.links.map((l) => `${l.kind}:${l.ref}`) } : {}),
        },
      });
    })();
    return this.view(actor, { id, ...next });
  }

  private localDate(ts: number): string {
    const w = wallClock(ts, this.d.timezone);
    return `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
  }
}

interface Row {
  id: number;
  data: string;
}

const toCase = (r: Row): StoredCase & { id: number } => ({ id: r.id, ...(JSON.parse(r.data) as StoredCase) });

const isInspector = (s: StaffMember | null) => !!s && !s.disabled && s.roles.includes('inspector');

function validDate(d: string): boolean {
  const [y, m, day] = d.split('-').map(Number) as [number, number, number];
  const t = new Date(Date.UTC(y, m - 1, day));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === day;
}

/** What a search matches, from the reader's own view: a search cannot find what the reader may not see. */
function searchText(v: CaseView): string {
  return [v.number, v.summary, v.details, v.box ?? '', v.mail?.subject ?? '', ...v.links.map((l) => l.ref)]
    .join(' ')
    .toLowerCase();
}

/**
 * What the audit log keeps of a new case: what happened and where, the commitment to the identity,
 * and for an anonymous case not the tipster's own words either (they may name the tipster).
 */
function auditable(c: StoredCase): Record<string, unknown> {
  const { steps: _s, details, mail, ...rest } = c;
  if (!c.anonymous) return { ...rest, details, mail };
  // A Message-ID often carries the sender's host or address, so an anonymous case's is left out.
  return {
    ...rest,
    details: `(${details.length} characters, kept with the case)`,
    mail: mail ? { file: mail.file, sha256: mail.sha256, subject: mail.subject } : null,
  };
}
