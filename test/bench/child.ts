import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO = join(BENCH_DIR, '..', '..');

/** CPU time of a process so far, in microseconds. */
export interface CpuSample {
  user: number;
  system: number;
}

/**
 * A child process speaking JSON lines: it writes one JSON object per line on stdout; the parent
 * sends commands as lines on stdin and takes the next line as the answer.
 */
export class JsonChild {
  private readonly waiting: ((line: unknown) => void)[] = [];
  private readonly lines: unknown[] = [];
  private stderr = '';
  private exitError: Error | null = null;

  private constructor(readonly proc: ChildProcess) {
    const rl = createInterface({ input: proc.stdout! });
    rl.on('line', (line) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        process.stderr.write(`[child ${proc.pid}] ${line}\n`);
        return;
      }
      const w = this.waiting.shift();
      if (w) w(parsed);
      else this.lines.push(parsed);
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (s: string) => {
      this.stderr += s;
      if (this.stderr.length > 20_000) this.stderr = this.stderr.slice(-10_000);
    });
    proc.on('exit', (code, signal) => {
      this.exitError = new Error(
        `child ${proc.pid} exited (${code ?? signal}); stderr:\n${this.stderr.slice(-4000)}`,
      );
      for (const w of this.waiting.splice(0)) w(this.exitError);
    });
  }

  /** Spawns `node --import tsx test/bench/<script> ...args`. */
  static spawn(script: string, args: string[], nodeArgs: string[] = []): JsonChild {
    const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(BENCH_DIR, script), ...args], {
      cwd: REPO,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new JsonChild(proc);
  }

  /** Spawns `node <file.js> ...args`: compiled JavaScript, no TypeScript loader. */
  static spawnCompiled(file: string, args: string[], nodeArgs: string[] = []): JsonChild {
    const proc = spawn(process.execPath, [...nodeArgs, file, ...args], {
      cwd: REPO,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new JsonChild(proc);
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** The next JSON line (rejects if the child exits or nothing comes in `timeoutMs`). */
  next<T>(timeoutMs = 60_000): Promise<T> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued as T);
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(taker);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new Error(`child ${this.pid}: no answer within ${timeoutMs} ms\n${this.stderr.slice(-4000)}`));
      }, timeoutMs);
      const taker = (line: unknown) => {
        clearTimeout(timer);
        if (line instanceof Error) reject(line);
        else resolve(line as T);
      };
      this.waiting.push(taker);
    });
  }

  async ask<T>(command: string, timeoutMs?: number): Promise<T> {
    this.proc.stdin!.write(`${command}\n`);
    return this.next<T>(timeoutMs);
  }

  /** Sends `stop`, waits for the exit (SIGKILL after `graceMs`). */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.stdin!.write('stop\n');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/** Resident set size of a process in bytes, from /proc (Linux), or null if it is gone. */
export function rssOf(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

const TICKS_PER_SEC = 100; // USER_HZ on Linux

/** User + system CPU time of a process in microseconds, from /proc/<pid>/stat, or null. */
export function cpuOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks / TICKS_PER_SEC) * 1e6;
  } catch {
    return null;
  }
}

/** Pids of the direct children of this process whose command name is `comm`. */
export function childPidsNamed(comm: string): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (name === comm && ppid === process.pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
