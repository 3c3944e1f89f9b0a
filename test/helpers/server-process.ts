import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/** A real server binary run by a test: started, stopped, restarted on the same port and data. */
export interface ServerProcess {
  /** SIGTERM and wait for exit (servers save their state on a clean exit). */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Starts it again with the same arguments (same port, same data dir). */
  restart(): Promise<void>;
  /** Stops it if running and removes its data dir. */
  dispose(): Promise<void>;
  /** What the server wrote to stderr, for diagnosing a failing test. */
  log(): string;
}

export interface ServerProcessOptions {
  name: string;
  bin: string;
  args: string[];
  dataDir: string;
  /** True once the server serves (it accepts connections, answers /ping…). */
  ready: () => Promise<boolean>;
  startTimeoutMs: number;
  what: string;
}

/** Spawns the server and waits until `ready`; a server that exits or stays silent fails with its log. */
export async function startServerProcess(opts: ServerProcessOptions): Promise<ServerProcess> {
  let child: ChildProcess | undefined;
  let logText = '';

  const exited = (proc: ChildProcess): Promise<void> =>
    proc.exitCode !== null || proc.signalCode !== null
      ? Promise.resolve()
      : new Promise((resolve) => proc.once('exit', () => resolve()));

  async function start(): Promise<void> {
    const proc = spawn(opts.bin, opts.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      logText += chunk;
    });
    const deadline = Date.now() + opts.startTimeoutMs;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(
          `${opts.name} exited (${proc.exitCode ?? proc.signalCode}) while starting:\n${logText}`,
        );
      }
      if (await opts.ready()) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    proc.kill('SIGKILL');
    throw new Error(`${opts.name} did not ${opts.what} within ${opts.startTimeoutMs / 1000} s:\n${logText}`);
  }

  async function signal(sig: NodeJS.Signals): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc) return;
    const done = exited(proc);
    proc.kill(sig);
    await done;
  }

  await start();
  return {
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    async restart() {
      await signal('SIGTERM');
      await start();
    },
    async dispose() {
      await signal('SIGTERM');
      rmSync(opts.dataDir, { recursive: true, force: true });
    },
    log: () => logText,
  };
}
