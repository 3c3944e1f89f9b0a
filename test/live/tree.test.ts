import { describe, expect, it } from 'vitest';
import { campusTree } from '../../services/metering/live/tree.ts';
import { testCampus } from './support.ts';

describe('campus tree', () => {
  const tree = campusTree(testCampus());
  const role = (id: string) => tree.nodes[id]?.role;

  it('an OPC UA device is a substation group holding its meters; parents in the file win', () => {
    const ss = tree.nodes['gw1/ss1']!;
    expect(ss).toMatchObject({
      kind: 'group',
      role: 'substation',
      parent: null,
      site: 'east',
      gateway: 'gw1',
    });
    expect(ss.children).toEqual(['SS1-T1', 'SS1-AUX']);
    expect(tree.nodes['SS1-T1']!.children).toEqual(['SS1-F1', 'SS1-F2']);
    expect([role('SS1-T1'), role('SS1-F1'), role('SS1-F2'), role('SS1-AUX')]).toEqual([
      'transformer',
      'feeder',
      'feeder',
      'meter',
    ]);
    expect(tree.nodes['SS1-T1']!.name).toBe('Transformer 1');
  });

  it('Modbus meters nest by parent, with roles from their place in the tree', () => {
    expect(tree.nodes['E-SUB1-INCOMER']).toMatchObject({
      role: 'substation',
      parent: null,
      children: ['E-BLDG-A'],
    });
    expect(tree.nodes['E-BLDG-A']).toMatchObject({
      role: 'building',
      parent: 'E-SUB1-INCOMER',
      children: ['E-DORM-A-101', 'E-SHOP-1'],
    });
    expect(role('E-DORM-A-101')).toBe('room');
    expect(role('E-SHOP-1')).toBe('unit');
    expect(role('W-BLDG-A')).toBe('meter');
    // A building fed from a substation feeder read over OPC UA, with a floor below it.
    expect(tree.nodes['E-LAB-B']).toMatchObject({ role: 'building', parent: 'SS1-F2' });
    expect(tree.nodes['SS1-F2']!.children).toEqual(['E-LAB-B']);
    expect(role('E-LAB-B-2F')).toBe('floor');
    expect(role('E-LAB-B-201')).toBe('meter');
  });

  it('relay from the profile, accounts, kinds, site roots and the campus time zone', () => {
    expect(tree.nodes['E-DORM-A-101']).toMatchObject({
      relay: true,
      account: 'ROOM-A-101',
      kind: 'electricity',
    });
    expect(tree.nodes['E-BLDG-A']!.relay).toBe(false);
    expect(tree.nodes['W-BLDG-A']!.kind).toBe('water');
    expect(tree).toMatchObject({ campus: 'Test University', timezone: 'Asia/Shanghai' });
    expect(tree.sites).toEqual([
      { id: 'east', name: 'East campus', roots: ['E-SUB1-INCOMER', 'W-BLDG-A', 'gw1/ss1'] },
    ]);
    // Every child names its parent back, and every node is reachable from a root.
    const reached = new Set<string>();
    const walk = (id: string) => {
      reached.add(id);
      for (const c of tree.nodes[id]!.children) {
        expect(tree.nodes[c]!.parent).toBe(id);
        walk(c);
      }
    };
    tree.sites[0]!.roots.forEach(walk);
    expect([...reached].sort()).toEqual(Object.keys(tree.nodes).sort());
  });
});
