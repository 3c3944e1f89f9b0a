import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CumulativeQuantity } from '../../services/metering/storage.ts';
import type { ValidatedInterval } from '../../services/metering/vee/types.ts';
import { build, type CaseInput, localIso, parseTime } from './harness.ts';

/**
 * Golden VEE cases: test/vee/golden/<case>/input.json (readings, installations, config overrides,
 * the query) and expected.json (the validated intervals). UPDATE_GOLDEN=1 rewrites expected.json
 * from the current output; review the diff before keeping it.
 */

const ROOT = join(import.meta.dirname, 'golden');
const cases = readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

function view(i: ValidatedInterval, tz: string) {
  return {
    start: localIso(i.start, tz),
    value: i.value,
    source: i.source,
    ...(i.method !== undefined ? { method: i.method } : {}),
    flags: i.flags.map((f) => `${f.rule} ${f.severity}: ${f.reason}`),
    version: i.version,
    ...(i.note !== undefined ? { note: i.note } : {}),
  };
}

describe('VEE golden cases', () => {
  it('has cases', () => expect(cases.length).toBeGreaterThan(0));
  for (const name of cases) {
    it(name, async () => {
      const input = JSON.parse(readFileSync(join(ROOT, name, 'input.json'), 'utf8')) as CaseInput;
      const built = await build(input);
      try {
        const q = {
          meter: input.query.meter,
          quantity: input.query.quantity as CumulativeQuantity,
          from: parseTime(input.query.from),
          to: parseTime(input.query.to),
          step: input.query.step,
        };
        const got = (await built.vee.intervals(q)).map((i) => view(i, input.timezone));
        // Idempotent: asking again gives the same versions and adds none.
        const again = (await built.vee.intervals(q)).map((i) => view(i, input.timezone));
        expect(again).toEqual(got);
        const file = join(ROOT, name, 'expected.json');
        if (process.env.UPDATE_GOLDEN) writeFileSync(file, `${JSON.stringify(got, null, 2)}\n`);
        expect(got).toEqual(JSON.parse(readFileSync(file, 'utf8')));
      } finally {
        await built.close();
      }
    });
  }
});
