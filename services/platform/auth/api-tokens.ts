import { randomBytes } from 'node:crypto';
import { authFail } from './errors.ts';
import {
  can,
  isPermission,
  PERSON_ONLY_PERMISSIONS,
  type Actor,
  type Permission,
  type Role,
} from './roles.ts';
import { parseRoles, sha256, type UserStore } from './user-store.ts';

/**
 * API tokens for machines (a billing export job, a vending kiosk). The secret is returned once
 * and only its SHA-256 is kept. A token acts only within its scopes, each of which its roles must
 * grant; approvals, reading edits and user management are never given to a machine.
 */

export interface ApiTokenInfo {
  name: string;
  roles: Role[];
  scopes: Permission[];
  createdBy: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export interface TokenRequest {
  name: string;
  roles: readonly Role[];
  scopes: readonly Permission[];
  expiresAt?: number;
}

export const TOKENS_SCHEMA = `
CREATE TABLE IF NOT EXISTS api_tokens (
  name TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  roles TEXT NOT NULL,
  scopes TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  last_used_at INTEGER
);
`;

export interface TokenRow {
  name: string;
  token_hash: string;
  roles: string;
  scopes: string;
  created_by: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

/** API token secrets carry a prefix so that secret scanners and people recognise them. */
const API_TOKEN_PREFIX = 'cet_';
const MINUTE = 60_000;

export function toToken(r: TokenRow): ApiTokenInfo {
  return {
    name: r.name,
    roles: parseRoles(r.roles),
    scopes: JSON.parse(r.scopes) as Permission[],
    createdBy: r.created_by,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
  };
}

export class ApiTokens {
  constructor(private readonly s: UserStore) {}

  /** Checks a token request and returns it normalised; throws naming what is wrong. */
  validate(input: TokenRequest): { name: string; roles: Role[]; scopes: Permission[]; expiresAt?: number } {
    const name = this.s.validName(input.name);
    const roles = this.s.validRoles(input.roles, `token ${name}`);
    if (input.scopes.length === 0) authFail('INVALID_SCOPE', `token ${name} needs at least one scope`);
    const scopes = [...new Set(input.scopes)];
    for (const scope of scopes) {
      if (!isPermission(scope)) authFail('INVALID_SCOPE', `${String(scope)} is not a permission`);
      if (PERSON_ONLY_PERMISSIONS.includes(scope)) {
        authFail('SCOPE_NOT_ALLOWED', `${scope} is for people only; an API token may not have it`);
      }
      if (!can({ id: name, kind: 'token', roles }, scope)) {
        authFail(
          'INVALID_SCOPE',
          `token ${name}: roles ${roles.join(', ') || '(none)'} do not grant ${scope}`,
        );
      }
    }
    if (input.expiresAt !== undefined && !(input.expiresAt > this.s.clock())) {
      authFail('INVALID_SCOPE', `token ${name}: expiresAt must be in the future`);
    }
    if (this.exists(name)) authFail('TOKEN_EXISTS', `API token ${name} exists (names are not reused)`);
    return { name, roles, scopes, ...(input.expiresAt !== undefined ? { expiresAt: input.expiresAt } : {}) };
  }

  exists(name: string): boolean {
    return this.s.db.prepare('SELECT 1 FROM api_tokens WHERE name = ?').get(name) !== undefined;
  }

  /** Issues a validated token (inside the caller's transaction); `createdBy` names who asked. */
  issue(actor: string, createdBy: string, input: TokenRequest): { token: string; info: ApiTokenInfo } {
    const v = this.validate(input);
    const token = API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const now = this.s.clock();
    const info: ApiTokenInfo = {
      name: v.name,
      roles: v.roles,
      scopes: v.scopes,
      createdBy,
      createdAt: now,
      expiresAt: v.expiresAt ?? null,
      revokedAt: null,
      lastUsedAt: null,
    };
    this.s.db
      .prepare(
        `INSERT INTO api_tokens (name, token_hash, roles, scopes, created_by, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        v.name,
        sha256(token),
        JSON.stringify(v.roles),
        JSON.stringify(v.scopes),
        createdBy,
        now,
        info.expiresAt,
      );
    this.s.audit.append({
      actor,
      action: 'token.create',
      subject: `token:${v.name}`,
      after: { name: v.name, roles: v.roles, scopes: v.scopes, expiresAt: info.expiresAt },
    });
    return { token, info };
  }

  /** The actor of an API token, or null when the hash is not a token's. */
  authenticate(hash: string, now: number): Actor | null {
    const t = this.s.db.prepare('SELECT * FROM api_tokens WHERE token_hash = ?').get(hash) as
      TokenRow | undefined;
    if (!t) return null;
    if (t.revoked_at !== null) authFail('TOKEN_REVOKED', `API token ${t.name} was revoked`);
    if (t.expires_at !== null && now >= t.expires_at)
      authFail('TOKEN_REVOKED', `API token ${t.name} has expired`);
    if (t.last_used_at === null || now - t.last_used_at >= MINUTE) {
      this.s.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE name = ?').run(now, t.name);
    }
    const info = toToken(t);
    return { id: `token:${t.name}`, kind: 'token', roles: info.roles, scopes: info.scopes };
  }

  /** Revokes a token for good; revoking a revoked token changes nothing. Immediate: it only takes power away. */
  revoke(by: Actor, name: string, reason?: string): void {
    this.s.assertManager(by);
    this.s.tx(() => {
      const t = this.s.db.prepare('SELECT * FROM api_tokens WHERE name = ?').get(name) as
        TokenRow | undefined;
      if (!t) authFail('TOKEN_NOT_FOUND', `no API token named ${name}`);
      if (t.revoked_at !== null) return;
      this.s.db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE name = ?').run(this.s.clock(), name);
      this.s.audit.append({
        actor: by.id,
        action: 'token.revoke',
        subject: `token:${name}`,
        before: { revoked: false },
        after: { revoked: true },
        reason,
      });
    });
  }

  list(by: Actor): ApiTokenInfo[] {
    this.s.assertManager(by);
    return (this.s.db.prepare('SELECT * FROM api_tokens ORDER BY name').all() as TokenRow[]).map(toToken);
  }
}
