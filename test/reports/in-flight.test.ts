import { describe, expect, it } from 'vitest';
import { inFlight } from '../../services/money/reports/in-flight.ts';

describe('reports shared while in flight', () => {
  it('computes once for asks that overlap, and afresh once it has ended, failed or not', async () => {
    const shared = inFlight<number>();
    let computed = 0;
    let release: (v: number) => void = () => undefined;
    const slow = () => {
      computed++;
      return new Promise<number>((resolve) => (release = resolve));
    };
    const a = shared('year|2026', slow);
    const b = shared('year|2026', slow);
    const other = shared('month|2026-11', () => Promise.resolve(7));
    release(42);
    expect(await Promise.all([a, b, other])).toEqual([42, 42, 7]);
    expect(computed).toBe(1);
    // Ended: the next ask computes again (a report is not kept here).
    const c = shared('year|2026', slow);
    release(43);
    expect(await c).toBe(43);
    expect(computed).toBe(2);
    // A failure reaches every asker of that round, and is not remembered.
    const boom = () => Promise.reject(new Error('store gone'));
    await expect(Promise.all([shared('x', boom), shared('x', slow)])).rejects.toThrow('store gone');
    const d = shared('x', slow);
    release(1);
    expect(await d).toBe(1);
    expect(computed).toBe(3);
  });
});
