import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Pieces that were written more than once and folded into one (duplicates): the seeded PRNG, the
 * "refused and nothing changed" check, and repeated work on a timer. A new copy would drift from
 * the one the tests and the product share; this lists where each may stand.
 */

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'fixtures' ? [] : sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

const where = (dirs: string[], needle: string | RegExp) =>
  dirs
    .flatMap(sources)
    // This file names what it looks for.
    .filter((f) => f !== 'test/architecture/one-copy.test.ts')
    .filter((f) => {
      const text = readFileSync(f, 'utf8');
      return typeof needle === 'string' ? text.includes(needle) : needle.test(text);
    })
    .sort();

describe('one copy of each', () => {
  it('the seeded PRNG (mulberry32) of the product and the tests is services/platform/seeded-random.ts', () => {
    // simulators/meters/random.ts keeps the simulators' own (they ship apart from the services).
    expect(where(['services', 'test', 'bin'], '0x6d2b79f5')).toEqual(['services/platform/seeded-random.ts']);
  });

  it('the "refused with its code, nothing changed" check is test/helpers/refused.ts', () => {
    expect(where(['test'], 'expect((error as ServiceError).code).toBe(code)')).toEqual([
      'test/helpers/refused.ts',
    ]);
  });

  it("a report's row lookup and an invoice's element schema are written once in services/money", () => {
    expect(where(['services'], /function rowOf\(/)).toEqual(['services/money/reports/row-costs.ts']);
    expect(
      where(
        ['services'],
        /name: z\.string\(\)\.min\(1\)\.max\(64\),\s*quantity: z\.number\(\)\.nonnegative\(\)\.optional\(\)/,
      ),
    ).toEqual(['services/money/billing/invoice-check.ts']);
  });

  it('repeated work in the back office, operations, money and the audit goes through platform/timers.ts', () => {
    // The overview's push belongs to one client's stream, catches its own failures and ends with it.
    expect(
      where(
        ['services/backoffice', 'services/operations', 'services/money', 'services/platform/audit'],
        /setInterval\(/,
      ),
    ).toEqual(['services/backoffice/overview/routes.ts']);
  });
});
