import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError } from '../../config/errors.ts';
import { demoScenario } from '../../simulators/scenario/demo.ts';
import { loadScenarioFile, parseScenario, resolveTime } from '../../simulators/scenario/schema.ts';
import { HOUR, smallScenarioInput } from './support.ts';

const dir = mkdtempSync(join(tmpdir(), 'scenario-schema-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problems(raw: unknown): string[] {
  try {
    parseScenario(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

describe('scenario description', () => {
  it('resolves absolute and relative times', () => {
    const start = Date.UTC(2026, 0, 1);
    expect(resolveTime('+2d12h', start)).toBe(start + 60 * HOUR);
    expect(resolveTime('+90m', start)).toBe(start + 1.5 * HOUR);
    expect(resolveTime('2026-01-01T08:00:00+08:00', 0)).toBe(start);
    expect(resolveTime(42, start)).toBe(42);
    expect(resolveTime('tomorrow', start)).toBeNaN();
  });

  it('loads from YAML and resolves injection windows against the start', () => {
    const file = join(dir, 'small.yaml');
    const input = smallScenarioInput({
      injections: [{ type: 'tap', node: 'B1', kw: 1, from: '+1h' }],
    });
    writeFileSync(file, stringify(input));
    const s = loadScenarioFile(file);
    expect(s.start).toBe(Date.parse('2026-12-01T00:00:00+08:00'));
    expect(s.injections[0]).toMatchObject({ type: 'tap', from: s.start + HOUR, to: Infinity });
    expect(s.sites[0]!.gateway).toBe('gw-main');
    expect(s.physicsStep).toBe(60_000);
  });

  it('reports every reference and placement problem with its path', () => {
    const input = smallScenarioInput({
      injections: [
        { type: 'heater', node: 'WU1', kw: 2, from: '+1h' },
        { type: 'tap', node: 'B1', m3h: 1, from: '+1h' },
        { type: 'meter-stopped', node: 'nowhere', from: 'soon' },
      ],
    });
    input.nodes.push(
      { id: 'R1', site: 'main', utility: 'electricity', kind: 'unit', parent: 'B9', load: 'office' },
      {
        id: 'X',
        site: 'main',
        utility: 'electricity',
        kind: 'unit',
        load: 'office',
        meter: { via: 'modbus', id: 'E-B1', profile: 'x', bus: 'line9', unitId: 1 },
      },
    );
    const found = problems(input);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^nodes\[\d+\]\.id: duplicate node id R1/),
        expect.stringMatching(/parent: unknown node B9/),
        expect.stringMatching(/meter\.id: duplicate meter id E-B1/),
        expect.stringMatching(/meter\.bus: site main has no bus line9/),
        expect.stringMatching(/^injections\[0\]\.type: heater does not apply to a water node/),
        expect.stringMatching(/^injections\[1\]: a tap takes kw on electricity/),
        expect.stringMatching(/^injections\[2\]\.from: not a time: soon/),
        expect.stringMatching(/^injections\[2\]\.node: unknown node nowhere/),
      ]),
    );
  });

  it('builds the demo scenario: two sites, a few hundred meters, injections', () => {
    const s = demoScenario();
    const meters = s.nodes.filter((n) => n.meter);
    expect(meters.length).toBeGreaterThanOrEqual(300);
    expect(meters.length).toBeLessThanOrEqual(400);
    expect(s.sites.map((x) => x.id)).toEqual(['east', 'west']);
    expect(new Set(s.injections.map((i) => i.type))).toEqual(
      new Set(['bypass', 'tap', 'heater', 'heating-while-stopped', 'meter-backwards', 'meter-stopped']),
    );
    expect(s.nodes.filter((n) => n.kind === 'transformer')).toHaveLength(4);
  });
});
