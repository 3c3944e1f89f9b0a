import { describe, expect, it } from 'vitest';
import { validateCampus } from '../../config/campus.ts';
import { READING_ERROR_CATALOGUE } from '../../gateway/reading-errors.ts';
import { campusTree } from '../../services/metering/live/tree.ts';
import type { LiveReading } from '../../services/metering/live/types.ts';
import { demoCampus } from '../../simulators/campus/demo-campus.ts';
import type { CampusTree, TreeNode } from '../../services/metering/live/types.ts';

interface Column {
  key: string;
  quantity?: string;
  today?: boolean;
  unit: string;
  scale?: number;
  sums: boolean;
}
interface LiveModel {
  childrenOf(tree: CampusTree, id: string): string[];
  COLUMNS: Record<string, Column[]>;
  naturalCompare(a: string, b: string): number;
  sections(tree: CampusTree): { utility: string; sites: { id: string; roots: string[] }[] }[];
  totalOf(
    tree: CampusTree,
    ids: string[],
    column: Column,
    readingOf: (id: string) => LiveReading | undefined,
  ): { sum: number; counted: number; missing: number };
  utilityOf(node: TreeNode): string;
  errorKey(code: string, has: (key: string) => boolean): string | null;
}
// @ts-expect-error -- the web app's browser JavaScript has no type declarations
const model = (await import('../../services/backoffice/web/public/live-model.js')) as LiveModel;
const { childrenOf, COLUMNS, errorKey, naturalCompare, sections, totalOf, utilityOf } = model;
// @ts-expect-error -- the web app's browser JavaScript has no type declarations
const words = (await import('../../services/backoffice/web/public/words-live.js')) as Record<
  'en' | 'zh',
  Record<string, string>
>;

/**
 * The live tree's totals recomputed another way: instead of walking each node's children, every
 * meter adds its value to its parent's bucket found from the `parent` field, for the demo campus
 * with readings drawn from a seeded generator, some of them errors, stale or missing.
 */

const campus = validateCampus(
  demoCampus({
    ports: Array.from({ length: 20 }, (_, i) => 20_000 + i),
    dataDir: '/tmp',
    roomsPerFloorLine: 3,
  }),
  { file: '/tmp/campus.yaml', dir: '/tmp' },
);
const tree = campusTree(campus);

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

describe('live tree model', () => {
  it('orders utilities electricity, water, heat and names naturally', () => {
    expect(sections(tree).map((s) => s.utility)).toEqual(['electricity', 'water', 'heat']);
    expect(['Building 10', 'Building 2', 'line1.10', 'line1.2'].sort(naturalCompare)).toEqual([
      'Building 2',
      'Building 10',
      'line1.2',
      'line1.10',
    ]);
    // Every meter is shown exactly once: as a root of its utility or below a node of its utility.
    const shown: string[] = [];
    const walk = (id: string) => {
      shown.push(id);
      for (const c of childrenOf(tree, id)) walk(c);
    };
    for (const s of sections(tree)) for (const site of s.sites) for (const r of site.roots) walk(r);
    expect(shown.sort()).toEqual(Object.keys(tree.nodes).sort());
  });

  for (const seed of [1, 2, 3]) {
    it(`totals agree with a sum by parent field (seed ${seed})`, () => {
      const next = rng(seed);
      const readings = new Map<string, LiveReading>();
      for (const id of Object.keys(tree.nodes)) {
        const x = next();
        if (x < 0.1) continue; // no reading
        readings.set(id, {
          meter: id,
          ts: 1,
          seq: 1,
          quality: x < 0.2 ? 'error' : 'good',
          values:
            x < 0.2
              ? {}
              : { power_kw: Math.round(next() * 1000) / 100, flow_m3h: Math.round(next() * 100) / 100 },
          stale: x > 0.9,
          today: Math.round(next() * 500) / 10,
        });
      }
      const fresh = (r: LiveReading | undefined) => !!r && r.quality !== 'error' && !r.stale;
      for (const [u, columns] of Object.entries(COLUMNS)) {
        for (const column of columns.filter((c) => c.sums)) {
          const buckets = new Map<string, { sum: number; missing: number }>();
          for (const n of Object.values(tree.nodes)) {
            if (n.parent === null || utilityOf(n) !== u) continue;
            const p = tree.nodes[n.parent]!;
            if (utilityOf(p) !== u || n.kind === 'group') continue;
            const b = buckets.get(p.id) ?? { sum: 0, missing: 0 };
            const r = readings.get(n.id);
            const v = column.today ? r?.today : r?.values[column.quantity as 'power_kw'];
            if (fresh(r) && v !== undefined && v !== null) b.sum += v * (column.scale ?? 1);
            else b.missing++;
            buckets.set(p.id, b);
          }
          for (const [id, expected] of buckets) {
            const got = totalOf(tree, childrenOf(tree, id), column, (m: string) => readings.get(m));
            expect(got.sum, `${id} ${column.key}`).toBeCloseTo(expected.sum, 9);
            expect(got.missing, `${id} ${column.key}`).toBe(expected.missing);
          }
        }
      }
    });
  }

  it('never sums voltage, current or temperature', () => {
    const summed = Object.values(COLUMNS)
      .flat()
      .filter((c) => c.sums)
      .map((c) => c.quantity ?? 'today');
    expect(summed.sort()).toEqual(['flow_m3h', 'flow_m3h', 'power_kw', 'today', 'today', 'today']);
  });

  it('has words in both languages for every reading error code a gateway can send', () => {
    for (const code of Object.keys(READING_ERROR_CATALOGUE)) {
      for (const lang of ['en', 'zh'] as const) {
        const key = errorKey(code, (k) => k in words[lang]);
        expect(key, `${lang} ${code}`).not.toBeNull();
      }
    }
    expect(errorKey('DLT645_TIMEOUT', (k) => k in words.zh)).toBe('readerr.TIMEOUT');
    expect(errorKey('SOMETHING_NEW', (k) => k in words.zh)).toBeNull();
  });
});
