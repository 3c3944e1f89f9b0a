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
