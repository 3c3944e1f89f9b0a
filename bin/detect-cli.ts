import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadCampus as loadCampusFile, type LoadedCampus } from '../config/campus.ts';
import { ConfigError } from '../config/errors.ts';
import { detect } from '../services/inspection/detection/engine.ts';
import { heatingDetector } from '../services/inspection/detection/heating.ts';
import { illegalLoadDetector } from '../services/inspection/detection/illegal-load.ts';
import { InputFileError, campusMeters, inputFromCsv } from '../services/inspection/detection/input.ts';
import type {
  DetectionInput,
  DetectionResult,
  Detector,
  Finding,
  Suspect,
} from '../services/inspection/detection/types.ts';

/**
 * `campus-energy detect`: the live service's engine over files, for audits and evaluations. Reads
 * the campus file, long-form readings and optionally weather and heating registrations, and writes
 * a JSON report: every meter and node with a numeric score, whether it alerts and why; for nodes
 * the ranked suspects and the unexplained energy; and every finding with its evidence. Exit codes:
 * 0 report written, 1 a bad campus or input file (the message names file and line), 2 any other
 * error.
 */

export interface DetectCliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  exitCode: (code: number) => void;
}

const processIo: DetectCliIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  exitCode: (code) => {
    process.exitCode = code;
  },
};

export interface DetectDeps {
  io?: DetectCliIo;
  loadCampus?: (file: string) => LoadedCampus;
  /** The engine; default services/inspection/detection/engine.ts `detect`. */
  detect?: (input: DetectionInput, config?: undefined, detectors?: readonly Detector[]) => DetectionResult;
  /** Extra detectors; default the illegal-load and heating detectors with their defaults. */
  detectors?: readonly Detector[];
}

export interface MeterReport {
  id: string;
  kind: string;
  score: number;
  alert: boolean;
  reason: string;
}

export interface NodeReport extends MeterReport {
  suspects: Suspect[];
  /** kWh (m³ for water) not explained by the meters below, where a balance finding estimated it. */
  unexplained: number | null;
}

export interface DetectReport {
  campus: string;
  timezone: string;
  from: string;
  to: string;
  meters: MeterReport[];
  nodes: NodeReport[];
  findings: Finding[];
}

/**
 * The balance finding whose unexplained energy the report shows for a node: the current one (the
 * latest episode), not the year's highest-scored.
 */
export function nodeBalanceFinding(result: DetectionResult, node: string): Finding | undefined {
  return result.findings
    .filter((f) => f.node === node && (f.suspects?.length || f.unexplained !== undefined))
    .sort((a, b) => b.evidence.to - a.evidence.to || b.score - a.score)[0];
}

/**
 * The suspects the report shows for a node: the engine's current ranking (by this run's meter
 * scores), else those of the node's current balance finding.
 */
export function nodeSuspects(result: DetectionResult, node: string): Suspect[] {
  const current = result.scores.find((s) => s.kind === 'node' && s.id === node)?.suspects;
  if (current && current.length > 0) return current;
  return [...(nodeBalanceFinding(result, node)?.suspects ?? [])].sort((a, b) => b.score - a.score);
}

/** Every meter and every node (a meter with meters below it) of the campus, scored. */
export function buildReport(
  campus: LoadedCampus,
  input: DetectionInput,
  result: DetectionResult,
): DetectReport {
  const all = campusMeters(campus);
  const parents = new Set(all.flatMap((m) => (m.parent ? [m.parent] : [])));
  const scoreOf = (id: string, kind: 'meter' | 'node') =>
    result.scores.find((s) => s.id === id && s.kind === kind);
  const meters: MeterReport[] = all.map((m) => {
    const s = scoreOf(m.meter, 'meter');
    return {
      id: m.meter,
      kind: m.kind,
      score: s?.score ?? 0,
      alert: s?.alert ?? false,
      reason: s?.reason ?? 'no detector found anything',
    };
  });
  const nodes: NodeReport[] = all
    .filter((m) => parents.has(m.meter))
    .map((m) => {
      const s = scoreOf(m.meter, 'node');
      const balance = nodeBalanceFinding(result, m.meter);
      return {
        id: m.meter,
        kind: m.kind,
        score: s?.score ?? 0,
        alert: s?.alert ?? false,
        reason: s?.reason ?? 'balanced',
        suspects: nodeSuspects(result, m.meter),
        unexplained: balance?.unexplained ?? null,
      };
    });
  return {
    campus: campus.config.campus.name,
    timezone: input.timezone,
    from: new Date(input.from).toISOString(),
    to: new Date(input.to).toISOString(),
    meters,
    nodes,
    findings: [...result.findings].sort((a, b) => b.score - a.score),
  };
}

interface DetectOptions {
  config: string;
  readings: string;
  weather?: string;
  heating?: string;
  out: string;
}

const readCsv = (name: string) => {
  try {
    return { name, text: readFileSync(name, 'utf8') };
  } catch (e) {
    throw new InputFileError(name, 0, `cannot read: ${(e as Error).message}`);
  }
};

/** Runs one `detect`; returns the exit code. */
export function runDetect(opts: DetectOptions, deps: DetectDeps = {}): number {
  const io = deps.io ?? processIo;
  try {
    const campus = (deps.loadCampus ?? loadCampusFile)(opts.config);
    const input = inputFromCsv({
      campus,
      readingsCsv: readCsv(opts.readings),
      ...(opts.weather ? { weatherCsv: readCsv(opts.weather) } : {}),
      ...(opts.heating ? { heatingCsv: readCsv(opts.heating) } : {}),
    });
    const detectors = deps.detectors ?? [illegalLoadDetector(), heatingDetector()];
    const result = (deps.detect ?? detect)(input, undefined, detectors);
    const report = buildReport(campus, input, result);
    writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
    const alerting = [...report.meters, ...report.nodes].filter((x) => x.alert).length;
    io.out(
      `${report.meters.length} meters, ${report.nodes.length} nodes, ${report.findings.length} findings, ${alerting} alerting → ${opts.out}`,
    );
    return 0;
  } catch (e) {
    if (e instanceof ConfigError || e instanceof InputFileError) {
      io.err(e.message);
      return 1;
    }
    io.err(`detect failed: ${(e as Error).message}`);
    return 2;
  }
}

export function registerDetectCommands(program: Command, deps: DetectDeps = {}): void {
  const io = deps.io ?? processIo;
  program
    .command('detect')
    .description('Run the detection engine over CSV readings and write a scored report (JSON)')
    .requiredOption('-c, --config <campus.yaml>', 'campus file (meters, metering tree, accounts)')
    .requiredOption(
      '-r, --readings <file.csv>',
      'readings, long form: meter,ts,quantity,value (ISO 8601 UTC)',
    )
    .option('-w, --weather <file.csv>', 'outdoor temperature: ts,outdoor_c')
    .option(
      '--heating <registrations.csv>',
      "heating registrations: meter,state,from,to,work_order,confirmed_by[,electricity_meter]; meter is the unit's heat meter (on or stopped), or its electricity meter with state on: registered electric heating",
    )
    .requiredOption('-o, --out <report.json>', 'where to write the report')
    .action((opts: DetectOptions) => {
      io.exitCode(runDetect(opts, { ...deps, io }));
    });
}
