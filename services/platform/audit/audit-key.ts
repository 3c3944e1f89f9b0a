import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The audit log's MAC key: 32 random bytes in a file beside (not in) the back-office database,
 * readable by the back office's user only. Every entry from `since` on carries an HMAC of its hash
 * under this key, so someone who can write the database but not read this file — a database
 * administrator, a copy of the file — cannot rewrite an entry and recompute the chain after it:
 * `audit verify` names the first entry whose MAC fails. Whoever holds the key can; against them
 * stands the published chain head.
 */
export interface AuditKey {
  key: Buffer;
  /** The first entry the key covers: entries before it were written before the key existed. */
  since: number;
}

export function readAuditKey(file: string): AuditKey | null {
  if (!existsSync(file)) return null;
  const json = JSON.parse(readFileSync(file, 'utf8')) as { key?: unknown; since?: unknown };
  if (typeof json.key !== 'string' || !/^[0-9a-f]{64}$/.test(json.key) || !Number.isInteger(json.since)) {
    throw new Error(`${file} is not an audit key file ({"key": 64 hex digits, "since": entry number})`);
  }
  return { key: Buffer.from(json.key, 'hex'), since: json.since as number };
}

/** Reads the key, or makes one covering the entries after `headSeq` (the log's newest entry now). */
export function ensureAuditKey(file: string, headSeq: number): AuditKey {
  const existing = readAuditKey(file);
  if (existing) return existing;
  mkdirSync(dirname(file), { recursive: true });
  const key = { key: randomBytes(32), since: headSeq + 1 };
  writeFileSync(file, JSON.stringify({ key: key.key.toString('hex'), since: key.since }), {
    mode: 0o600,
    flag: 'wx',
  });
  return key;
}
