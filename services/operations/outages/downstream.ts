import type { CampusTree, TreeNode } from '../../metering/live/types.ts';

/**
 * Who an outage on one node of the metering tree reaches: every meter below it, grouped by the
 * building each stands in, with the rooms and accounts among them. Computed from the campus file's
 * tree (services/metering/live/tree.ts), never typed in, so a notice cannot leave out a building
 * the planner forgot, and recomputed the same way for the public page and the suppression checks.
 */

export type Utility = 'electricity' | 'water' | 'heat';

export interface AffectedBuilding {
  /** The building's meter id; for a customer fed straight from a substation, its own meter. */
  id: string;
  name: string;
  rooms: string[];
  accounts: string[];
}

export interface Downstream {
  node: string;
  nodeName: string;
  utility: Utility;
  site: string;
  /** The node and every meter below it (the ones marked, exempted and judged). */
  meters: string[];
  buildings: AffectedBuilding[];
  /** Leaf meters billed to a customer or named as rooms. */
  rooms: string[];
  /** Accounts of those meters, plus prepaid accounts that list one of them. */
  accounts: string[];
}

/** Roles a building sits above: a notice is posted per building, never per feeder. */
const ABOVE_BUILDINGS = new Set(['substation', 'transformer', 'feeder']);

export class TopologyError extends Error {}

/**
 * Everything downstream of `nodeId` for `utility`. `accountsOf` adds accounts the campus file does
 * not name (prepaid accounts list their meters in the back office). Throws TopologyError when the
 * node is not in the tree or belongs to another utility.
 */
export function downstreamOf(
  tree: CampusTree,
  nodeId: string,
  utility: Utility,
  accountsOf: (meter: string) => readonly string[] = () => [],
): Downstream {
  const node = tree.nodes[nodeId];
  if (!node) throw new TopologyError(`no node ${nodeId} in the metering tree`);
  // An OPC UA substation device is a group: its meters say the utility.
  if (node.kind !== utility && !(node.kind === 'group' && utility === 'electricity')) {
    throw new TopologyError(`node ${nodeId} is a ${node.kind} meter, not ${utility}`);
  }
  const meters: string[] = [];
  const walk = (n: TreeNode) => {
    meters.push(n.id);
    for (const c of n.children) walk(tree.nodes[c]!);
  };
  walk(node);

  const byBuilding = new Map<string, AffectedBuilding>();
  const rooms: string[] = [];
  const allAccounts = new Set<string>();
  for (const id of meters) {
    const n = tree.nodes[id]!;
    const accounts = [...(n.account ? [n.account] : []), ...accountsOf(id)];
    for (const a of accounts) allAccounts.add(a);
    const isRoom = n.children.length === 0 && (n.role === 'room' || n.role === 'unit' || accounts.length > 0);
    const b = buildingOf(tree, n);
    if (!b) continue;
    let entry = byBuilding.get(b.id);
    if (!entry) byBuilding.set(b.id, (entry = { id: b.id, name: b.name, rooms: [], accounts: [] }));
    if (isRoom) {
      rooms.push(id);
      entry.rooms.push(id);
    }
    for (const a of accounts) if (!entry.accounts.includes(a)) entry.accounts.push(a);
  }
  return {
    node: node.id,
    nodeName: node.name,
    utility,
    site: node.site,
    meters,
    buildings: [...byBuilding.values()],
    rooms,
    accounts: [...allAccounts].sort(),
  };
}

/**
 * The building a meter stands in: the nearest ancestor-or-self with role `building`; a customer
 * fed straight from a substation element (a canteen on a feeder) is its own building; a feeder or
 * transformer is in none.
 */
function buildingOf(tree: CampusTree, n: TreeNode): TreeNode | null {
  for (let cur: TreeNode | undefined = n; cur; cur = cur.parent ? tree.nodes[cur.parent] : undefined) {
    if (cur.role === 'building') return cur;
  }
  return ABOVE_BUILDINGS.has(n.role) || n.kind === 'group' ? null : n;
}
