import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HEATING_MONEY_ERRORS } from '../../services/money/heating/errors.ts';
import { HEATING_ERRORS } from '../../services/operations/heating/errors.ts';

const sources = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && f !== 'errors.ts')
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');

describe('heating error catalogues', () => {
  for (const [name, catalogue, dir] of [
    ['heating desk', HEATING_ERRORS, 'services/operations/heating'],
    ['heating money', HEATING_MONEY_ERRORS, 'services/money/heating'],
  ] as const) {
    it(`${name}: every code is described and thrown`, () => {
      const code = sources(dir);
      for (const [key, entry] of Object.entries(catalogue)) {
        expect(entry.description.length, key).toBeGreaterThan(10);
        expect(code, `${key} is never thrown`).toContain(`'${key}'`);
      }
    });
  }
});
