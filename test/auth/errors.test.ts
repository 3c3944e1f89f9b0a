import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AUTH_ERRORS } from '../../services/platform/auth/errors.ts';

describe('auth error catalogue', () => {
  it.each(Object.entries(AUTH_ERRORS))('%s has a status and a description', (_code, entry) => {
    expect([400, 401, 403, 404, 409, 429]).toContain(entry.status);
    expect(entry.description.length).toBeGreaterThan(20);
  });

  it('services/platform/auth uses no code outside the catalogue, and every code is used', () => {
    const source = readdirSync('services/platform/auth')
      .filter((f) => f.endsWith('.ts') && f !== 'errors.ts')
      .map((f) => readFileSync(`services/platform/auth/${f}`, 'utf8'))
      .join('\n');
    const used = new Set([...source.matchAll(/authFail\(\s*'([A-Z_]+)'/g)].map((m) => m[1]!));
    expect([...used].sort()).toEqual(Object.keys(AUTH_ERRORS).sort());
  });
});
