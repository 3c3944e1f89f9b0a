import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BILLING_ERRORS } from '../../services/money/billing/errors.ts';
import { READINGS_ERRORS } from '../../services/metering/readings/errors.ts';

const sources = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && f !== 'errors.ts')
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');

describe('error catalogues', () => {
  for (const [name, catalogue, dir] of [
    ['billing', BILLING_ERRORS, 'services/money/billing'],
    ['readings', READINGS_ERRORS, 'services/metering/readings'],
  ] as const) {
    it(`${name}: every code is described and used`, () => {
      const code = sources(dir);
      for (const [key, entry] of Object.entries(catalogue)) {
        expect(entry.description.length, key).toBeGreaterThan(10);
        expect(code, `${key} is never thrown`).toContain(`'${key}'`);
      }
    });
  }
});
