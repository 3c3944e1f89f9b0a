import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { LINKED_STDIO, linkedEnv } from './parent-link.ts';

/**
 * A process tree for `campus-energy run`: each part (a gateway, ingest, the back office) runs as
 * a child process of its own, so that the back office's heavy work (detection, bill runs,
 * reports) never stalls the event loop that polls meters or stores readings, and a part that
 * fails is restarted alone. Nothing is lost by a restart: a gateway's readings wait in its disk
 * outbox, ingest acknowledges only what its store has, and what a crash still drops is found
 * and replayed end to end (config/schemas/replay.ts).
 *
 * Restarts back off from `restartBaseMs` doubling to `restartMaxMs`; a child that stayed up for
 * `stableMs` starts again from the base. Stopping sends SIGTERM to every child (each part stops
 * cleanly: the gateway drains, ingest acknowledges what it stored) and SIGKILL to any still
 * running after `stopTimeoutMs`.
 */

export interface ChildSpec {
  /** A name for logs and stats, e.g. "gateway gw1". */
  name: string;
  /** The command and its arguments. */
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
}

export interface SupervisorOptions {
  children: readonly ChildSpec[];
  logger: Logger;
  restartBaseMs?: number;
  restartMaxMs?: number;
  stableMs?: number;
  /**
   * SIGKILL for a child still running this long after SIGTERM (default 4 s: the whole tree stops
   * within 5 s, and each part gives up on its own stop after 4.5 s anyway).
   */
  stopTimeoutMs?: number;
}

export interface ChildStats {
  name: string;
  pid: number | null;
  running: boolean;
  restarts: number;
  lastExit: { code: number | null; signal: string | null; at: number } | null;
}

export interface Supervisor {
  stats(): ChildStats[];
  /** Resolves once every child has exited. */
  stop(): Promise<void>;
}

interface Slot {
  spec: ChildSpec;
  child: ChildProcess | null;
  startedAt: number;
  restarts: number;
  delay: number;
  timer: NodeJS.Timeout | undefined;
  lastExit: ChildStats['lastExit'];
}

export function startSupervisor(opts: SupervisorOptions): Supervisor {
  const log = opts.logger.child({ component: 'supervisor' });
  const base = opts.restartBaseMs ?? 1_000;
  const max = opts.restartMaxMs ?? 30_000;
  const stableMs = opts.stableMs ?? 60_000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 4_000;
  let stopping = false;
  const slots: Slot[] = opts.children.map((spec) => ({
    spec,
    child: null,
    startedAt: 0,
    restarts: 0,
    delay: base,
    timer: undefined,
    lastExit: null,
  }));

  function launch(slot: Slot): void {
    slot.timer = undefined;
    if (stopping) return;
    // Linked: a part hears this process die, SIGKILL included, and stops (parent-link.ts).
    const child = spawn(slot.spec.command, [...slot.spec.args], {
      stdio: [...LINKED_STDIO],
      env: linkedEnv(slot.spec.env ?? process.env),
    });
    slot.child = child;
    slot.startedAt = Date.now();
    log.info({ part: slot.spec.name, pid: child.pid }, 'part started');
    child.once('error', (err) =>
      log.error({ part: slot.spec.name, err: err.message }, 'part could not start'),
    );
    child.once('exit', (code, signal) => {
      slot.child = null;
      slot.lastExit = { code, signal, at: Date.now() };
      if (stopping) return;
      // A part that ran a while failed afresh: start over from the short delay.
      if (Date.now() - slot.startedAt >= stableMs) slot.delay = base;
      log.error(
        { part: slot.spec.name, code, signal, restartInMs: slot.delay },
        'part exited; restarting it alone',
      );
      slot.restarts += 1;
      slot.timer = setTimeout(() => launch(slot), slot.delay);
      slot.delay = Math.min(max, slot.delay * 2);
    });
  }

  for (const slot of slots) launch(slot);

  return {
    stats: () =>
      slots.map((s) => ({
        name: s.spec.name,
        pid: s.child?.pid ?? null,
        running: s.child !== null,
        restarts: s.restarts,
        lastExit: s.lastExit,
      })),
    async stop() {
      stopping = true;
      const running: Promise<void>[] = [];
      for (const slot of slots) {
        clearTimeout(slot.timer);
        const child = slot.child;
        if (!child) continue;
        running.push(
          new Promise<void>((resolve) => {
            const kill = setTimeout(() => {
              log.warn({ part: slot.spec.name }, 'part did not stop in time; killing it');
              child.kill('SIGKILL');
            }, stopTimeoutMs);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill('SIGTERM');
          }),
        );
      }
      await Promise.all(running);
    },
  };
}
