import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PUBLIC_ERRORS } from '../../services/backoffice/public/errors.ts';
import { loadWindowData } from '../../services/backoffice/public/window-data.ts';

describe('the public window’s data file', () => {
  it('names the six procedures the center must publish, each with who decides, and fees in whole fen', () => {
    const d = loadWindowData();
    expect(d.procedures.map((p) => p.id)).toEqual(
      expect.arrayContaining(['cut-off', 'free-quota', 'refund', 'capacity', 'illegal-use', 'complaints']),
    );
    for (const f of d.feeStandards) expect(Number.isInteger(f.amountFen)).toBe(true);
  });

  it('refuses a file with a step by nobody known or a fee in yuan, naming the file and the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'window-data-'));
    const file = join(dir, 'bad.json');
    const good = loadWindowData();
    writeFileSync(
      file,
      JSON.stringify({
        ...good,
        feeStandards: [{ ...good.feeStandards[0], amountFen: 200.5 }],
        procedures: [{ ...good.procedures[0], decides: 'janitor' }],
      }),
    );
    expect(() => loadWindowData(file)).toThrow(
      /bad\.json[\s\S]*amountFen[\s\S]*decides|bad\.json[\s\S]*decides[\s\S]*amountFen/,
    );
  });

  it('documents every error code with a status', () => {
    for (const [code, e] of Object.entries(PUBLIC_ERRORS)) {
      expect(e.status, code).toBe(404);
      expect(e.description.length, code).toBeGreaterThan(20);
    }
  });
});
