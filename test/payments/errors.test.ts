import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PAYMENT_ERRORS } from '../../services/money/payments/errors.ts';
import { SELF_SERVICE_ERRORS } from '../../services/money/selfservice/errors.ts';

/** The payments and self-service error catalogues: each code described, used, and nothing used outside them. */

function codesUsed(folder: string, pattern: RegExp): Set<string> {
  const dir = new URL(`../../services/money/${folder}/`, import.meta.url);
  const sources = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && f !== 'errors.ts')
    .map((f) => readFileSync(new URL(f, dir), 'utf8'))
    .join('\n');
  return new Set([...sources.matchAll(pattern)].map((m) => m[1]!));
}

describe.each([
  ['payments', PAYMENT_ERRORS, /(?:refusePayment\(|new Refusal\()\s*'([A-Z_]+)'/g],
  ['selfservice', SELF_SERVICE_ERRORS, /refuseSelf\(\s*'([A-Z_]+)'/g],
] as const)('the %s error catalogue', (folder, catalogue, pattern) => {
  it.each(Object.entries(catalogue))('%s has a status and a description', (_code, e) => {
    expect([400, 401, 404, 409, 429, 503]).toContain(e.status);
    expect(e.description.length).toBeGreaterThan(20);
  });

  it('every code used is in the catalogue, and every code in it is used', () => {
    const used = codesUsed(folder, pattern);
    for (const code of used) expect(Object.keys(catalogue)).toContain(code);
    for (const code of Object.keys(catalogue)) expect([...used], code).toContain(code);
  });
});
