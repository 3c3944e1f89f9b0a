import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';

/** The broker configuration the project ships; tests run against exactly these settings. */
export const SHIPPED_MOSQUITTO_CONF = fileURLToPath(
  new URL('../../config/mosquitto/campus-energy.conf', import.meta.url),
);

export interface Mosquitto {
  url: string;
  port: number;
  dataDir: string;
  /** SIGTERM and wait for exit; mosquitto writes its persistence file on a clean exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data dir (and so the saved sessions). */
  restart(): Promise<void>;
  /** SIGKILL and wait for exit: nothing is saved since the last autosave. */
  kill(): Promise<void>;
  /** Stops it if running and removes the temp dir. */
  dispose(): Promise<void>;
  /** mosquitto's own log lines (stderr), for diagnosing a failing test. */
  log(): string;
}

export interface MosquittoOptions {
  /** Seconds between persistence autosaves (default: the shipped configuration's). */
  autosaveInterval?: number;
}

/**
 * Starts the real mosquitto on 127.0.0.1 and a free port from the shipped configuration
 * (config/mosquitto/campus-energy.conf: persistence, queue and in-flight limits sized so that no
 * QoS 1 reading is dropped), adding only the listener, a temp persistence dir and logging.
 */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'mosquitto-'));
  const confPath = join(dataDir, 'mosquitto.conf');
  const lines = [
    `# ${SHIPPED_MOSQUITTO_CONF}`,
    readFileSync(SHIPPED_MOSQUITTO_CONF, 'utf8'),
    '# test additions',
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    `persistence_location ${dataDir}/`,
    ...(options.autosaveInterval === undefined ? [] : [`autosave_interval ${options.autosaveInterval}`]),
    'set_tcp_nodelay true',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
  ];
  // Running as root, mosquitto drops privileges to the user named here, who must own the data dir.
  if (process.getuid?.() === 0) lines.push(`user ${userInfo().username}`);
  writeFileSync(confPath, `${lines.join('\n')}\n`);

  let child: ChildProcess | undefined;
  let logText = '';

  const exited = (proc: ChildProcess): Promise<void> =>
    proc.exitCode !== null || proc.signalCode !== null
      ? Promise.resolve()
      : new Promise((resolve) => proc.once('exit', () => resolve()));

  async function start(): Promise<void> {
    const proc = spawn(MOSQUITTO_BIN, ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      logText += chunk;
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`mosquitto exited (${proc.exitCode ?? proc.signalCode}) while starting:\n${logText}`);
      }
      if (await accepts(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    proc.kill('SIGKILL');
    throw new Error(`mosquitto did not accept connections on ${port} within 10 s:\n${logText}`);
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
    url: `mqtt://127.0.0.1:${port}`,
    port,
    dataDir,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    async restart() {
      await signal('SIGTERM');
      await start();
    },
    async dispose() {
      await signal('SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
    log: () => logText,
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
