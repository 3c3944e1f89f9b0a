import type { CampusTree, TreeNode } from '../../metering/live/types.ts';
import type { MeterKind } from '../../metering/storage.ts';
import { fail } from '../../platform/errors.ts';
import { CUSTOMER_TYPES, type CustomerType } from '../billing/tariffs.ts';
import { REPORT_ERRORS } from './period.ts';

/**
 * What a report covers: the campus, one building (a building node of the campus file and every
 * meter below it), or one customer type (every meter of an account of that type). Per utility it
 * names the meters whose sum is the scope's consumption and the customer meters that are priced.
 */

export type ReportScope =
  { kind: 'campus' } | { kind: 'building'; id: string } | { kind: 'customer-type'; type: CustomerType };

/** A customer meter: its account's verified customer type, and whether billing (VEE) prices it. */
export interface CustomerMeter {
  type: CustomerType;
  /** Post-paid: billed from VEE's validated days; prepaid: debited from the raw interval consumption. */
  postPaid: boolean;
}

export interface ScopeMeters {
  /** The meters summed for consumption: no meter of the same utility above them within the scope. */
  consumption: string[];
  /** The customer meters priced at their tariff. */
  priced: { meter: string; customer: CustomerMeter }[];
  /** Meters of an account whose customer type is unknown or not verified: not priced, counted. */
  unpriced: string[];
}

const KINDS: readonly MeterKind[] = ['electricity', 'water', 'heat'];

/** "campus", "building:E-E1-MAIN" or "type:student-room" to a scope, or a clear error. */
export function parseScope(text: string, tree: CampusTree): ReportScope {
  if (text === 'campus') return { kind: 'campus' };
  const [kind, id = ''] = [text.slice(0, text.indexOf(':')), text.slice(text.indexOf(':') + 1)];
  if (kind === 'building') {
    if (tree.nodes[id]?.role !== 'building')
      fail(REPORT_ERRORS, 'UNKNOWN_REPORT_SCOPE', `no building ${id} in the campus file`);
    return { kind: 'building', id };
  }
  if (kind === 'type') {
    if (!(CUSTOMER_TYPES as readonly string[]).includes(id))
      fail(
        REPORT_ERRORS,
        'UNKNOWN_REPORT_SCOPE',
        `no customer type ${id}; one of ${CUSTOMER_TYPES.join(', ')}`,
      );
    return { kind: 'customer-type', type: id as CustomerType };
  }
  return fail(
    REPORT_ERRORS,
    'UNKNOWN_REPORT_SCOPE',
    `scope "${text}": write campus, building:<meter id of a building> or type:<customer type>`,
  );
}

function subtree(tree: CampusTree, root: string): TreeNode[] {
  const out: TreeNode[] = [];
  const stack = [root];
  while (stack.length) {
    const n = tree.nodes[stack.pop()!];
    if (!n) continue;
    out.push(n);
    stack.push(...n.children);
  }
  return out;
}

/** Whether a meter of the same kind lies above `n` inside the scope (then `n` is already counted). */
function coveredWithin(tree: CampusTree, n: TreeNode, inScope: ReadonlySet<string>): boolean {
  let p = n.parent ? tree.nodes[n.parent] : undefined;
  while (p && inScope.has(p.id)) {
    if (p.kind === n.kind) return true;
    p = p.parent ? tree.nodes[p.parent] : undefined;
  }
  return false;
}

/** The scope's meters per utility; a utility with no meter in the scope is left out. */
export function scopeMeters(
  tree: CampusTree,
  scope: ReportScope,
  customerOf: (meter: string) => CustomerMeter | undefined,
): Map<MeterKind, ScopeMeters> {
  const nodes =
    scope.kind === 'building'
      ? subtree(tree, scope.id)
      : Object.values(tree.nodes).filter(
          (n) =>
            scope.kind === 'campus' || (n.account !== undefined && customerOf(n.id)?.type === scope.type),
        );
  const inScope = new Set(nodes.map((n) => n.id));
  const out = new Map<MeterKind, ScopeMeters>();
  for (const kind of KINDS) {
    const own = nodes.filter((n) => n.kind === kind).sort((a, b) => a.id.localeCompare(b.id));
    if (own.length === 0) continue;
    const accounts = own.filter((n) => n.account !== undefined);
    out.set(kind, {
      consumption: own.filter((n) => !coveredWithin(tree, n, inScope)).map((n) => n.id),
      priced: accounts.flatMap((n) => {
        const customer = customerOf(n.id);
        return customer ? [{ meter: n.id, customer }] : [];
      }),
      unpriced: accounts.filter((n) => !customerOf(n.id)).map((n) => n.id),
    });
  }
  return out;
}

/** A scope's name for the report's heading. */
export function scopeName(tree: CampusTree, scope: ReportScope): string {
  if (scope.kind === 'campus') return tree.campus;
  if (scope.kind === 'building') return tree.nodes[scope.id]?.name ?? scope.id;
  return scope.type;
}
