import { createHash, randomBytes } from 'node:crypto';
import { canonicalJson } from '../../platform/audit/canonical-json.ts';

/**
 * A tipster's identity and how it is shown. The identity (name, phone, email address) lives in its
 * own table, never in the case's data, the audit log or an export; what those hold instead is a
 * commitment: SHA-256 over a random per-case salt and the identity. The salt keeps the commitment
 * from being reversed by trying every phone number on the campus, and the commitment lets the
 * dedicated staff prove later that the identity they read is the one recorded at intake (an
 * insider who edits the identity table breaks it).
 */

export interface TipsterIdentity {
  name?: string;
  phone?: string;
  email?: string;
}

/** What every reader but the dedicated staff sees of a tipster kept anonymous. */
export const ANONYMOUS = 'anonymous';

export interface SealedIdentity {
  identity: TipsterIdentity;
  salt: string;
  commitment: string;
}

/** Empty fields dropped, text trimmed; an identity with nothing in it is no identity. */
export function cleanIdentity(i: TipsterIdentity | undefined): TipsterIdentity | null {
  if (!i) return null;
  const out: TipsterIdentity = {};
  for (const k of ['name', 'phone', 'email'] as const) {
    const v = i[k]?.trim();
    if (v) out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : null;
}

export function commitmentOf(identity: TipsterIdentity, salt: string): string {
  return createHash('sha256').update(salt).update(canonicalJson(identity)).digest('hex');
}

export function seal(identity: TipsterIdentity): SealedIdentity {
  const salt = randomBytes(16).toString('hex');
  return { identity, salt, commitment: commitmentOf(identity, salt) };
}

/**
 * The tipster as a reader sees it: the identity for the dedicated staff (or anyone, when the
 * tipster did not ask to stay anonymous), else the one word "anonymous" in every field, so that not
 * even which fields were given (a phone, an email) is told.
 */
export type TipsterView =
  | { anonymous: boolean; name: string | null; phone: string | null; email: string | null }
  | { anonymous: true; name: typeof ANONYMOUS; phone: typeof ANONYMOUS; email: typeof ANONYMOUS };

export function tipsterView(
  anonymous: boolean,
  identity: TipsterIdentity | null,
  mayReadIdentity: boolean,
): TipsterView {
  if (anonymous && !mayReadIdentity)
    return { anonymous: true, name: ANONYMOUS, phone: ANONYMOUS, email: ANONYMOUS };
  return {
    anonymous,
    name: identity?.name ?? null,
    phone: identity?.phone ?? null,
    email: identity?.email ?? null,
  };
}
