import type { LoadedCampus } from '../../../config/campus.ts';
import type { CampusTree, NodeRole, TreeNode } from './types.ts';
import { profileCanSwitch } from '../../../config/field-profiles.ts';

/**
 * The campus as the operators' tree, built from the campus file alone.
 *
 * - Each OPC UA device (a substation's SCADA) becomes a group node with role `substation`, id
 *   `<gateway>/<device>`: "/" cannot occur in a meter id, so a group id never collides with one.
 *   Its meters hang below it unless they name a `parent` meter, which then wins.
 * - Modbus meters nest by `parent`; a meter without one is a root of its site.
 *
 * Roles are heuristics on the file's shape and names (the file has no role field):
 * - a meter whose id or name has a token T1, TR2, TX, TRAFO or "transformer" is a `transformer`;
 *   F3 or "feeder" is a `feeder` — for OPC UA meters, and for Modbus meters at the top of the tree
 *   or under a substation element (deeper down, "F3" is more likely a floor);
 * - an OPC UA meter saying neither is a plain `meter`;
 * - a Modbus meter with children whose id or name says SUB, SS1 or INCOMER and that has no
 *   parent is a `substation` (a Modbus incomer meter standing for the whole substation);
 * - a meter with children whose parent is absent or a substation element (substation,
 *   transformer, feeder, anything read over OPC UA) is a `building`; with children below a
 *   building a `floor`, below a floor a `room`, deeper a `meter`;
 * - a meter without children is a `room` if its id, name or account says ROOM or DORM, a `unit`
 *   if it has an account (a billed customer: household, shop, canteen), else a `meter`.
 */

const TRANSFORMER = /^(t\d+|tr\d*|tx\d*|trafo\d*|transformer\d*|变压器\d*)$/i;
const FEEDER = /^(f\d+|feeder\d*|馈线\d*|出线\d*)$/i;
const SUBSTATION = /^(sub\d*|substation\d*|ss\d*|incomer\d*|变电站\d*|配电房\d*)$/i;
const ROOM = /^(room\d*|dorm\d*|房间\d*|宿舍\d*)$/i;

const SUBSTATION_ELEMENTS: ReadonlySet<NodeRole> = new Set(['substation', 'transformer', 'feeder']);

function tokens(...texts: (string | undefined)[]): string[] {
  return texts.flatMap((t) => (t ?? '').split(/[^\p{L}\p{N}]+/u).filter(Boolean));
}

/** 'transformer', 'feeder' or null, from the meter's id and name. */
function substationElement(id: string, name: string | undefined): 'transformer' | 'feeder' | null {
  const ts = tokens(id, name);
  if (ts.some((t) => TRANSFORMER.test(t))) return 'transformer';
  if (ts.some((t) => FEEDER.test(t))) return 'feeder';
  return null;
}

interface Entry {
  node: TreeNode;
  source: 'modbus' | 'opcua' | 'group';
  name?: string;
}

export function campusTree(campus: LoadedCampus): CampusTree {
  const entries = new Map<string, Entry>();
  const order: string[] = [];
  const add = (e: Entry) => {
    entries.set(e.node.id, e);
    order.push(e.node.id);
  };

  for (const site of campus.config.sites) {
    for (const gateway of site.gateways) {
      for (const bus of gateway.buses) {
        for (const m of bus.meters) {
          add({
            source: 'modbus',
            name: m.name,
            node: {
              id: m.id,
              name: m.name ?? m.id,
              kind: m.kind,
              role: 'meter',
              site: site.id,
              gateway: gateway.id,
              parent: m.parent ?? null,
              children: [],
              relay: profileCanSwitch(campus, m.profile),
              ...(m.account !== undefined ? { account: m.account } : {}),
            },
          });
        }
      }
      for (const device of gateway.opcua) {
        const groupId = `${gateway.id}/${device.id}`;
        add({
          source: 'group',
          node: {
            id: groupId,
            name: device.id,
            kind: 'group',
            role: 'substation',
            site: site.id,
            gateway: gateway.id,
            parent: null,
            children: [],
            relay: false,
          },
        });
        for (const m of device.meters) {
          add({
            source: 'opcua',
            name: m.name,
            node: {
              id: m.id,
              name: m.name ?? m.id,
              kind: m.kind,
              role: substationElement(m.id, m.name) ?? 'meter',
              site: site.id,
              gateway: gateway.id,
              parent: m.parent ?? groupId,
              children: [],
              // OPC UA meters are read from a SCADA; relays are a Modbus profile feature.
              relay: false,
              ...(m.account !== undefined ? { account: m.account } : {}),
            },
          });
        }
      }
    }
  }

  // Children in file order. A parent the file names is always a meter that exists (the campus
  // cross-check guarantees it), but a tree built from anything else should not break on it.
  for (const id of order) {
    const node = entries.get(id)!.node;
    if (node.parent === null) continue;
    const parent = entries.get(node.parent);
    if (parent) parent.node.children.push(id);
    else node.parent = null;
  }

  // Modbus roles depend on the parent's role, so assign them from the roots down.
  const assign = (id: string, parent: Entry | null) => {
    const e = entries.get(id)!;
    if (e.source === 'modbus') e.node.role = modbusRole(e, parent);
    for (const c of e.node.children) assign(c, e);
  };
  for (const id of order) if (entries.get(id)!.node.parent === null) assign(id, null);

  const nodes: Record<string, TreeNode> = {};
  for (const id of order) nodes[id] = entries.get(id)!.node;
  return {
    campus: campus.config.campus.name,
    timezone: campus.config.campus.timezone,
    sites: campus.config.sites.map((s) => ({
      id: s.id,
      name: s.name ?? s.id,
      roots: order.filter((id) => nodes[id]!.parent === null && nodes[id]!.site === s.id),
    })),
    nodes,
  };
}

function modbusRole(e: Entry, parent: Entry | null): NodeRole {
  const { node } = e;
  const parentRole = parent?.node.role ?? null;
  // Anything read from a substation's SCADA counts as a substation element.
  const topLevel = parent === null || parent.source !== 'modbus' || SUBSTATION_ELEMENTS.has(parentRole!);
  if (topLevel) {
    const element = substationElement(node.id, e.name);
    if (element) return element;
  }
  if (node.children.length > 0) {
    if (parentRole === null && tokens(node.id, e.name).some((t) => SUBSTATION.test(t))) return 'substation';
    if (topLevel) return 'building';
    if (parentRole === 'building') return 'floor';
    if (parentRole === 'floor') return 'room';
    return 'meter';
  }
  if (tokens(node.id, e.name, node.account).some((t) => ROOM.test(t))) return 'room';
  return node.account !== undefined ? 'unit' : 'meter';
}
