import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCampus, validateCampus } from '../../config/campus.ts';
import { ConfigError } from '../../config/errors.ts';
import { demoBusCount, demoCampus } from '../../simulators/campus/demo-campus.ts';

const dir = mkdtempSync(join(tmpdir(), 'campus-config-'));
function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}
function problemsOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

const base = (meters: string, extra = '') => `
campus: { name: Test }
${extra}
sites:
  - id: east
    gateways:
      - id: gw1
        buses:
          - id: line1
            type: rtu-over-tcp
            host: 127.0.0.1
            port: 4001
            meters:
${meters}
`;

describe('campus file', () => {
  it('parses the commented example campus with defaults applied', () => {
    const campus = loadCampus('config/examples/campus.yaml');
    const gw = campus.config.sites[0]!.gateways[0]!;
    expect(gw.buses.map((b) => b.type)).toEqual(['modbus-tcp', 'rtu-over-tcp', 'rtu-over-tcp']);
    const meter = gw.buses[1]!.meters[0]!;
    expect(meter.pollInterval).toBe(30_000);
    expect(gw.buses[1]!.timeout).toBe(300);
    expect(gw.buses[2]!.breaker).toEqual({ failures: 3, baseBackoff: 5_000, maxBackoff: 300_000 });
    expect(campus.profiles.get(meter.profile)?.kind).toBe('electricity');
    expect(Object.isFrozen(campus.config)).toBe(true);
  });

  it('names the file, the path, the line and the problem', () => {
    const file = write(
      'bad-unit.yaml',
      base(`              - { id: M1, kind: electricity, profile: eastron-sdm120, unitId: 300 }`),
    );
    const err = problemsOf(() => loadCampus(file));
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatchObject({
      path: 'sites[0].gateways[0].buses[0].meters[0].unitId',
      line: 14,
    });
    expect(err.message).toContain(`${file}:14: sites[0].gateways[0].buses[0].meters[0].unitId`);
    expect(err.message).toMatch(/247/);
  });

  it('rejects duplicate meter ids, unknown profiles, kind mismatches and unit id clashes', () => {
    const file = write(
      'cross.yaml',
      base(`              - { id: M1, kind: electricity, profile: eastron-sdm120, unitId: 1 }
              - { id: M1, kind: electricity, profile: eastron-sdm120, unitId: 2 }
              - { id: M3, kind: electricity, profile: no-such-meter, unitId: 3 }
              - { id: M4, kind: water, profile: eastron-sdm120, unitId: 3 }`),
    );
    const err = problemsOf(() => loadCampus(file));
    const byPath = Object.fromEntries(err.problems.map((p) => [p.path, p.message]));
    expect(byPath['sites[0].gateways[0].buses[0].meters[1].id']).toMatch(/meter id "M1" is already used/);
    expect(byPath['sites[0].gateways[0].buses[0].meters[2].profile']).toMatch(
      /unknown profile "no-such-meter"/,
    );
    expect(byPath['sites[0].gateways[0].buses[0].meters[3].kind']).toMatch(
      /profile eastron-sdm120 is a electricity/,
    );
    expect(byPath['sites[0].gateways[0].buses[0].meters[3].unitId']).toMatch(/unit id 3 is already meter M3/);
  });

  it('rejects a metering tree with a missing parent or a cycle', () => {
    const file = write(
      'tree.yaml',
      base(`              - { id: A, kind: electricity, profile: eastron-sdm120, unitId: 1, parent: B }
              - { id: B, kind: electricity, profile: eastron-sdm120, unitId: 2, parent: A }
              - { id: C, kind: electricity, profile: eastron-sdm120, unitId: 3, parent: nowhere }`),
    );
    const messages = problemsOf(() => loadCampus(file)).problems.map((p) => p.message);
    expect(messages).toContain('parent meter "nowhere" does not exist');
    expect(messages.some((m) => /cycle/.test(m))).toBe(true);
  });

  it('reports YAML syntax errors with their line, unknown keys and bad durations', () => {
    const syntax = write('syntax.yaml', 'campus: { name: Test\nsites: [');
    expect(problemsOf(() => loadCampus(syntax)).problems[0]!.line).toBeGreaterThan(0);
    const unknown = write(
      'unknown.yaml',
      base(
        `              - { id: M1, kind: electricity, profile: eastron-sdm120, unitId: 1, pollIntervall: 5s }`,
      ),
    );
    expect(problemsOf(() => loadCampus(unknown)).message).toMatch(/pollIntervall/);
    const duration = write(
      'duration.yaml',
      base(
        `              - { id: M1, kind: electricity, profile: eastron-sdm120, unitId: 1, pollInterval: fast }`,
      ),
    );
    expect(problemsOf(() => loadCampus(duration)).message).toMatch(/pollInterval: expected a duration/);
    expect(problemsOf(() => loadCampus(join(dir, 'missing.yaml'))).message).toMatch(/cannot read/);
  });

  it('reads OPC UA devices: node ids or browse paths per quantity, security defaults, shared meter ids', () => {
    const opcua = (meters: string, device = '') => `
campus: { name: Test }
sites:
  - id: east
    gateways:
      - id: gw1
        buses:
          - id: line1
            type: modbus-tcp
            host: 127.0.0.1
            meters:
              - { id: B1, kind: electricity, profile: eastron-sdm630, unitId: 1, parent: SUB1-F1 }
        opcua:
          - id: sub1
            endpoint: opc.tcp://10.0.0.5:4840/UA/Substation
${device}
            meters:
${meters}
`;
    const ok = loadCampus(
      write(
        'opcua.yaml',
        opcua(`              - id: SUB1-F1
                kind: electricity
                pollInterval: 10s
                nodes:
                  energy_import_kwh: { nodeId: "ns=1;s=SUB1.F1.energy_import_kwh", unit: MWh }
                  power_kw: "ns=1;s=SUB1.F1.power_kw"
                  breaker_closed: { browsePath: "/1:SUB1/1:F1/1:breaker_closed" }`),
      ),
    );
    const dev = ok.config.sites[0]!.gateways[0]!.opcua[0]!;
    expect(dev).toMatchObject({
      securityMode: 'SignAndEncrypt',
      securityPolicy: 'Basic256Sha256',
      mode: 'subscribe',
    });
    expect(dev.identity).toEqual({ type: 'anonymous' });
    expect(dev.meters[0]!.nodes.power_kw).toEqual({ nodeId: 'ns=1;s=SUB1.F1.power_kw' });
    expect(dev.meters[0]!.pollInterval).toBe(10_000);

    const bad = problemsOf(() =>
      loadCampus(
        write(
          'opcua-bad.yaml',
          opcua(
            `              - id: B1
                kind: electricity
                nodes:
                  energy_import_kwh: { nodeId: "ns=1;s=X", unit: m3 }
                  power_kw: { nodeId: "ns=1;s=X", browsePath: "/1:X" }
                  pf: "Feeder1.PF"`,
            '            securityMode: None',
          ),
        ),
      ),
    );
    const byPath = Object.fromEntries(bad.problems.map((p) => [p.path, p.message]));
    const m = 'sites[0].gateways[0].opcua[0]';
    expect(byPath[`${m}.securityPolicy`]).toMatch(/security mode None needs policy None/);
    expect(byPath[`${m}.meters[0].nodes.power_kw`]).toMatch(/exactly one of nodeId and browsePath/);
    expect(byPath[`${m}.meters[0].nodes.pf.nodeId`]).toMatch(/expected a node id/);
    // Schema problems stop before cross-checks; the unit mismatch and duplicate id show once the
    // schema is satisfied.
    const cross = problemsOf(() =>
      loadCampus(
        write(
          'opcua-cross.yaml',
          opcua(`              - id: B1
                kind: electricity
                nodes:
                  energy_import_kwh: { nodeId: "ns=1;s=X", unit: m3 }`),
        ),
      ),
    );
    const crossByPath = Object.fromEntries(cross.problems.map((p) => [p.path, p.message]));
    expect(crossByPath[`${m}.meters[0].id`]).toMatch(/meter id "B1" is already used/);
    expect(crossByPath[`${m}.meters[0].nodes.energy_import_kwh.unit`]).toMatch(/unit m3 does not fit/);
  });

  it('rejects a password in the file in favour of an environment variable name', () => {
    const file = write(
      'secret.yaml',
      base(
        `              - { id: M1, kind: electricity, profile: eastron-sdm120, unitId: 1 }`,
        'mqtt: { url: "mqtt://broker:1883", username: gw, password: hunter2 }',
      ),
    );
    expect(problemsOf(() => loadCampus(file)).message).toMatch(/mqtt.*password/);
  });

  it('builds a valid demo campus of a few hundred meters', () => {
    const ports = Array.from({ length: demoBusCount() }, (_, i) => 20000 + i);
    const campus = validateCampus(demoCampus({ ports, dataDir: dir }), { file: '(demo)', dir });
    const meters = campus.config.sites.flatMap((s) =>
      s.gateways.flatMap((g) => g.buses.flatMap((b) => b.meters)),
    );
    expect(meters.length).toBeGreaterThanOrEqual(200);
    expect(new Set(meters.map((m) => m.profile)).size).toBeGreaterThanOrEqual(6);
  });
});
