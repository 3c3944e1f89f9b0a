import { Command } from 'commander';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDetectCommands, type DetectReport } from '../../bin/detect-cli.ts';
import { readingsCsv } from '../../services/inspection/detection/input.ts';
import { MIN, campusScenario, renderInput, type Rendered } from './heating-loads-support.ts';

describe('campus-energy detect', () => {
  let r: Rendered;
  let dir: string;
  beforeAll(async () => {
    const scenario = campusScenario({
      rooms: 3,
      households: 2,
      stopped: { HU1: [{ from: '2026-11-01T00:00:00+08:00' }] },
      injections: [
        { type: 'heater', node: 'R2', kw: 1.5, from: '+18h', to: '+21h' },
        { type: 'heating-while-stopped', node: 'HU1', from: '+6h', to: '+20h' },
      ],
    });
    r = await renderInput(scenario, { days: 1, stepMs: MIN });
    dir = mkdtempSync(join(tmpdir(), 'detect-cli-'));
    writeFileSync(join(dir, 'readings.csv'), readingsCsv(r.input));
    writeFileSync(
      join(dir, 'heating.csv'),
      'meter,state,from,to,work_order,confirmed_by\nH-HU1,stopped,2026-10-31T16:00:00Z,,WO-7,wang.fang;zhao.lei\nH-HU2,on,2026-11-01T00:00:00Z,,WO-8,\n',
    );
  });
  afterAll(() => r.store.close());

  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    let code = -1;
    const program = new Command('campus-energy').exitOverride();
    registerDetectCommands(program, {
      io: { out: (l) => out.push(l), err: (l) => err.push(l), exitCode: (c) => (code = c) },
      loadCampus: () => r.campus,
    });
    await program.parseAsync(['node', 'campus-energy', 'detect', ...args]);
    return { out, err, code };
  };

  it('writes a report scoring every meter and node, with the injected cases alerting', async () => {
    const out = join(dir, 'report.json');
    const res = await run([
      '--config',
      'campus.yaml',
      '--readings',
      join(dir, 'readings.csv'),
      '--heating',
      join(dir, 'heating.csv'),
      '--out',
      out,
    ]);
    expect(res.err).toEqual([]);
    expect(res.code).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8')) as DetectReport;
    expect(report.meters.map((m) => m.id).sort()).toEqual([...r.input.meters.keys()].sort());
    for (const m of [...report.meters, ...report.nodes]) {
      expect(typeof m.score).toBe('number');
      expect(typeof m.alert).toBe('boolean');
      expect(m.reason.length).toBeGreaterThan(0);
    }
    expect(report.nodes.map((n) => n.id).sort()).toEqual(['E-D1', 'E-S1']);
    for (const n of report.nodes) {
      expect(Array.isArray(n.suspects)).toBe(true);
      expect(n.unexplained === null || typeof n.unexplained === 'number').toBe(true);
    }
    const alerting = report.meters.filter((m) => m.alert).map((m) => m.id);
    expect(alerting).toContain('E-R2');
    expect(alerting).toContain('H-HU1');
    expect(alerting).not.toContain('H-HU2');
    expect(report.findings.find((f) => f.key === 'illegal-load:E-R2')).toBeDefined();
    expect(
      report.findings.find((f) => f.key === 'unauthorized-heating:H-HU1')!.evidence.figures.workOrder,
    ).toBe('WO-7');
  });

  it('a bad row stops it with file:line and exit code 1', async () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'meter,ts,quantity,value\nE-R1,2026-12-01T00:00:00Z,pf,0.9\nE-R1,yesterday,pf,0.9\n');
    const res = await run(['-c', 'campus.yaml', '-r', bad, '-o', join(dir, 'never.json')]);
    expect(res.code).toBe(1);
    expect(res.err).toEqual([
      `${bad}:3: ts "yesterday" is not an ISO 8601 UTC time (e.g. 2026-12-01T08:00:00Z)`,
    ]);
  });
});
