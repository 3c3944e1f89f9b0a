import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { campusTariffsFile } from '../../services/money/billing/tariff-source.ts';

describe('where the back office and the billing CLI read the tariffs', () => {
  it('the file given, else tariffs.json next to the campus file, else none (the demo example is not a campus table)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tariff-source-'));
    const campus = { file: join(dir, 'campus.yaml') };
    expect(campusTariffsFile(campus)).toBeUndefined();
    writeFileSync(join(dir, 'tariffs.json'), '{}');
    expect(campusTariffsFile(campus)).toBe(join(dir, 'tariffs.json'));
    expect(campusTariffsFile(campus, '/etc/campus/tariffs-2027.json')).toBe('/etc/campus/tariffs-2027.json');
  });
});
