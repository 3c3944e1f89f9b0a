import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCampus } from '../../config/campus.ts';

/** storage.retention in the campus file: its defaults, and a clear error for each bad value. */
const dir = mkdtempSync(join(tmpdir(), 'campus-retention-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const example = readFileSync('config/examples/campus.yaml', 'utf8').replace(/^dataDir: .*$/m, 'dataDir: .');
let n = 0;

function campusWith(retention: string) {
  const file = join(dir, `campus-${++n}.yaml`);
  writeFileSync(file, `${example}\nstorage:\n  retention:\n${retention}`);
  return () => loadCampus(file).config.storage.retention;
}

describe('storage.retention settings', () => {
  it('defaults to 400 days of raw readings, applied every 24 hours', () => {
    const file = join(dir, 'plain.yaml');
    writeFileSync(file, example);
    expect(loadCampus(file).config.storage.retention).toEqual({
      ...{ rawDays: 400, every: 24 * 3_600_000 },
      ingestGaps: 'ledger',
    });
  });

  it('takes days, a duration, and null to keep raw readings for ever', () => {
    expect(campusWith('    rawDays: 90\n    every: 6h\n')()).toMatchObject({
      rawDays: 90,
      every: 6 * 3_600_000,
    });
    expect(campusWith('    rawDays: null\n')()).toMatchObject({ rawDays: null, every: 24 * 3_600_000 });
  });

  it("takes ingest's gap ledger being elsewhere only when accepted in those words", () => {
    expect(campusWith('    ingestGaps: elsewhere-accepted\n')().ingestGaps).toBe('elsewhere-accepted');
    expect(campusWith('    ingestGaps: elsewhere\n')).toThrow(/storage\.retention\.ingestGaps/);
  });

  it.each([
    ['    rawDays: 0\n', /storage\.retention\.rawDays: at least 1 day/],
    ['    rawDays: 30.5\n', /storage\.retention\.rawDays: expected a whole number of days/],
    ['    rawDays: "a year"\n', /storage\.retention\.rawDays: expected a whole number of days, or null/],
    ['    every: 48h\n', /storage\.retention\.every: at most 24h/],
    ['    every: daily\n', /storage\.retention\.every: expected a duration/],
    ['    keepDays: 30\n', /storage\.retention.*keepDays/],
  ])('refuses %j, naming the setting', (yaml, message) => {
    expect(campusWith(yaml)).toThrow(message);
  });
});
