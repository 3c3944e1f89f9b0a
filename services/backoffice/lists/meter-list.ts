import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { CampusTree, TreeNode } from '../../metering/live/types.ts';
import { route } from '../../platform/http/route.ts';

/**
 * GET /api/meters: the campus file's meters searched and paged on the server, so a campus of
 * thousands of meters never sends them all to a phone. A search is words that must all occur
 * (case-insensitive) in the meter's id, name, account, or the names and ids of what it hangs
 * below (its room, floor, building): "E1 101" finds room 101 of Dorm E1.
 */

export interface MeterListItem {
  id: string;
  name: string;
  kind: TreeNode['kind'];
  role: TreeNode['role'];
  site: string;
  account: string | null;
  /** The chain of nodes above it, nearest first (names), e.g. the building. */
  above: string[];
}

export interface MeterPage {
  total: number;
  offset: number;
  limit: number;
  items: MeterListItem[];
}

const Query = z
  .object({
    q: z
      .string()
      .max(200)
      .default('')
      .describe('Words that must all occur in the id, name, account or what the meter is below'),
    kind: z.enum(['electricity', 'water', 'heat']).optional(),
    offset: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(200).default(100).describe('At most 200 rows a page'),
  })
  .strict();

/** The meters in id order with the text a search looks through, computed once per tree. */
export function meterIndex(tree: CampusTree): { item: MeterListItem; text: string }[] {
  const order = new Intl.Collator('en', { numeric: true });
  return Object.values(tree.nodes)
    .filter((n) => n.kind !== 'group')
    .map((n) => {
      const above: string[] = [];
      for (
        let p = n.parent ? tree.nodes[n.parent] : undefined;
        p;
        p = p.parent ? tree.nodes[p.parent] : undefined
      )
        above.push(p.name);
      const item: MeterListItem = {
        ...{ id: n.id, name: n.name, kind: n.kind, role: n.role, site: n.site },
        ...{ account: n.account ?? null, above },
      };
      return { item, text: [n.id, n.name, n.account ?? '', n.site, ...above].join(' ').toLowerCase() };
    })
    .sort((a, b) => order.compare(a.item.id, b.item.id));
}

/** One page of the meters matching `q` (every word) and `kind`. */
export function searchMeters(
  index: readonly { item: MeterListItem; text: string }[],
  q: { q: string; kind?: MeterListItem['kind']; offset: number; limit: number },
): MeterPage {
  const words = q.q.toLowerCase().split(/\s+/).filter(Boolean);
  const hits = index.filter(
    (m) => (!q.kind || m.item.kind === q.kind) && words.every((w) => m.text.includes(w)),
  );
  return {
    total: hits.length,
    offset: q.offset,
    limit: q.limit,
    items: hits.slice(q.offset, q.offset + q.limit).map((m) => m.item),
  };
}

export function meterListRoutes(tree: CampusTree): ((app: FastifyInstance) => void)[] {
  const index = meterIndex(tree);
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/meters',
        summary:
          "The campus file's meters, searched (id, name, account, room, building) and paged on the server",
        tags: ['meters'],
        permission: 'readings.view',
        query: Query,
        handler: ({ query }): MeterPage => searchMeters(index, query),
      }),
  ];
}
