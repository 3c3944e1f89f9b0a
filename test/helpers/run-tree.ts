import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/**
 * `campus-energy run` as operators start it, and a look at its process tree: which parts run
 * under it, and whether a process still lives. For tests that kill the supervisor or its parts.
 */

export interface RunPart {
  pid: number;
  /** The part's command: gateway, ingest or backoffice. */
  name: string;
  args: string;
}

/**
 * The parts `campus-energy run` started under `pid`. Only the launcher's children count: in a
 * checkout tsx's loader may have an esbuild service (`esbuild --service=… --ping`) of its own.
 */
export function runParts(pid: number): RunPart[] {
  const out = spawnSync('ps', ['--ppid', String(pid), '-o', 'pid=,args='], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), args: m[2]! }))
    .filter((c) => c.args.includes('bin/campus-energy.js'))
    .map((c) => ({ ...c, name: /bin\/campus-energy\.js (\S+)/.exec(c.args)![1]! }));
}

/** Whether a process with this pid exists (a zombie not yet reaped counts as gone). */
export function alive(pid: number): boolean {
  const out = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  return out !== '' && !out.startsWith('Z');
}

export interface RunOptions {
  config: string;
  brokerPort: number;
  httpPort: number;
  /** The parts' log level (default FAULT_LOG, else warn); `info` is needed to count replays. */
  logLevel?: string;
  /** In a process group of its own, as a terminal starts it (for signals to the whole group). */
  detached?: boolean;
}

export interface RunningCampus {
  child: ChildProcess;
  /** The last 80 lines the process (and its parts) printed. */
  said: string[];
  /** Whether a line printed so far contained the marker (one of those the start was given). */
  printed(marker: string): boolean;
  /** Readings the gateways queued again for ingest so far ("replaying for ingest", JSON logs at info level). */
  replayed(): number;
}

/**
 * Starts `campus-energy run -c <config>` on the embedded broker; what it and its parts print is
 * kept (the last 80 lines) to name the cause when a test's wait fails.
 */
export function startRun(opts: RunOptions): RunningCampus {
  return watched(
    spawn(
      process.execPath,
      [
        'bin/campus-energy.js',
        'run',
        '-c',
        opts.config,
        '--broker-port',
        String(opts.brokerPort),
        '--http',
        `127.0.0.1:${opts.httpPort}`,
        '--insecure-cookie',
        '--log-level',
        opts.logLevel ?? process.env.FAULT_LOG ?? 'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false },
    ),
    [STOP_DEADLINE_MISSED, MQTT5_REFUSED],
  );
}

/** What a part prints when its stop did not finish within its deadline and it exits anyway (bin/cli-shared.ts). */
export const STOP_DEADLINE_MISSED = 'ms; exiting';

/** What ingest logs when the broker refused MQTT 5 and it falls back to 3.1.1. */
export const MQTT5_REFUSED = 'the broker refused MQTT 5';

/** What the demo prints once everything runs. */
export const DEMO_READY = 'Ctrl-C stops everything';

/** Starts `campus-energy demo` (one process) on `dataDir`, small: 4 rooms a floor, 7 days of history. */
export function startDemo(opts: { dataDir: string; brokerPort: number; httpPort: number }): RunningCampus {
  return watched(
    spawn(
      process.execPath,
      [
        'bin/campus-energy.js',
        'demo',
        ...['--data-dir', opts.dataDir, '--http-port', String(opts.httpPort)],
        ...['--broker-port', String(opts.brokerPort), '--rooms', '4', '--history', '7'],
        ...['--log-json', '--log-level', 'info'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
    [DEMO_READY],
  );
}

/** What `child` prints, kept and counted (see RunningCampus). */
function watched(child: ChildProcess, markers: readonly string[]): RunningCampus {
  const said: string[] = [];
  const seen = new Set<string>();
  let replayed = 0;
  const partial = { stdout: '', stderr: '' };
  const keep = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const lines = (partial[stream] + chunk.toString()).split('\n');
    partial[stream] = lines.pop()!;
    for (const line of lines) {
      if (line.includes('"replaying for ingest"'))
        replayed += (JSON.parse(line) as { queued: number }).queued;
      for (const m of markers) if (line.includes(m)) seen.add(m);
    }
    said.push(...lines.filter(Boolean));
    said.splice(0, Math.max(0, said.length - 80));
  };
  child.stdout!.on('data', keep('stdout'));
  child.stderr!.on('data', keep('stderr'));
  return {
    child,
    said,
    printed: (marker) => {
      if (!markers.includes(marker)) throw new Error(`not a marker this process is watched for: ${marker}`);
      return seen.has(marker);
    },
    replayed: () => replayed,
  };
}
