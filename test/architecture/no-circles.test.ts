import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * No two files of services/ import each other, directly or round a loop (type imports too): a
 * circle means neither module can be read, tested or moved without the other, which is what their
 * split was meant to avoid. The payments and the daily reconciliation were one such pair until the
 * clerk's mismatch queue, which both file into, became a module of its own.
 */

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'public' ? [] : sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s*'(\.[^']+)'|(?:^|\n)\s*import\s*'(\.[^']+)'/g;

function graph(root: string): Map<string, string[]> {
  const files = sources(root);
  const known = new Set(files);
  const out = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const to = [...text.matchAll(IMPORT)]
      .map((m) => normalize(join(dirname(f), m[1] ?? m[2]!)))
      .filter((t) => known.has(t));
    out.set(f, [...new Set(to)]);
  }
  return out;
}

/** Strongly connected components of more than one file (Tarjan), each sorted. */
function circles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) found.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return found;
}

describe('services/ has no import circles', () => {
  it('the finder sees a circle when there is one', () => {
    const g = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(circles(g)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });

  it('no file of services/ is in a circle', () => {
    expect(circles(graph('services'))).toEqual([]);
  });

  it('reads the imports it checks (the payments files import what they use)', () => {
    const g = graph('services/money');
    expect(g.get('services/money/payments/reconcile.ts')).toContain(
      'services/money/payments/mismatch-queue.ts',
    );
    expect(g.get('services/money/payments/payments.ts')).toContain('services/money/payments/reconcile.ts');
  });
});
