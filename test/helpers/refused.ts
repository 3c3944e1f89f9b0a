import { expect } from 'vitest';
import { ServiceError } from '../../services/platform/errors.ts';

/**
 * Runs `fn` and expects it refused with the coded error `code`, with `snapshot()` (what the
 * refusal must not have changed: the audit log's head and the service's rows) the same after as
 * before. Returns the error for the test to read its message.
 */
export function expectRefusedUnchanged(
  snapshot: () => unknown,
  code: string,
  fn: () => unknown,
): ServiceError {
  const before = snapshot();
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${code}`).toBeInstanceOf(ServiceError);
  expect((error as ServiceError).code).toBe(code);
  expect(snapshot()).toEqual(before);
  return error as ServiceError;
}

/** The audit log's head and every row of `table`, in id order: what a refusal leaves as it was. */
export function auditAndRows(
  db: { prepare(sql: string): { get(): unknown; all(): unknown[] } },
  table: string,
): () => unknown {
  return () => ({
    audit: db.prepare('SELECT MAX(seq) AS seq FROM audit_log').get(),
    rows: db.prepare(`SELECT * FROM ${table} ORDER BY id`).all(),
  });
}

/**
 * The ServiceError `fn` throws or rejects with. Anything else it throws is the test's failure as it
 * is, and returning normally is one too: a refusal that did not happen is never a pass.
 */
export async function errorOf(fn: () => unknown): Promise<ServiceError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ServiceError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

/** The code of the ServiceError `fn` throws or rejects with (see errorOf). */
export async function codeOf(fn: () => unknown): Promise<string> {
  return (await errorOf(fn)).code;
}
