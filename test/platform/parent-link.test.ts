import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PARENT_LINK_ENV } from '../../services/platform/supervisor/parent-link.ts';
import { exited } from '../helpers/campus-cli.ts';
import { waitFor } from '../helpers/readings.ts';
import { alive } from '../helpers/run-tree.ts';

/**
 * A part of `campus-energy run` stops when its supervisor dies, SIGKILL included, through the
 * shutdown every part registers (bin/cli-shared.ts onShutdown): real processes, a real supervisor
 * (services/platform/supervisor) and a real SIGKILL. Before the link, the part ran on as an orphan.
 */

const shared = fileURLToPath(new URL('../../bin/cli-shared.ts', import.meta.url));
const supervisorModule = fileURLToPath(
  new URL('../../services/platform/supervisor/supervisor.ts', import.meta.url),
);

/**
 * A part as the CLI's are: it starts (for DELAY_MS), registers its shutdown, then runs until
 * stopped; MARK says where it is: starting <pid>, running <pid>, stopped cleanly.
 */
const PART = `
const { writeFileSync } = await import('node:fs');
const { onShutdown } = await import(${JSON.stringify(shared)});
writeFileSync(process.env.MARK, 'starting ' + process.pid);
await new Promise((r) => setTimeout(r, Number(process.env.DELAY_MS ?? 0)));
onShutdown(async () => writeFileSync(process.env.MARK, 'stopped cleanly'));
writeFileSync(process.env.MARK, 'running ' + process.pid);
setInterval(() => {}, 1000);
`;

/** A supervisor process running one such part. */
const SUPERVISOR = `
const { startSupervisor } = await import(${JSON.stringify(supervisorModule)});
const { pino } = await import('pino');
startSupervisor({
  logger: pino({ level: 'silent' }),
  children: [{ name: 'part', command: process.execPath, args: ['--import', 'tsx', '--input-type=module', '-e', process.env.PART] }],
});
setInterval(() => {}, 1000);
`;

const nodeModule = (code: string, env: NodeJS.ProcessEnv, stdio: ('ignore' | 'inherit' | 'ipc')[]) =>
  spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    env: { ...process.env, ...env },
    stdio,
  });

describe('a supervised part and its supervisor', () => {
  let dir: string;
  const started: ChildProcess[] = [];
  const pids: number[] = [];

  afterEach(async () => {
    for (const pid of pids.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (const c of started.splice(0)) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await exited(c);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const mark = () => join(dir, 'mark');
  const said = () => (existsSync(mark()) ? readFileSync(mark(), 'utf8') : '');
  const partPid = () => Number(/\d+$/.exec(said())?.[0]);

  /** Starts a supervisor whose part registers its shutdown after `delayMs`; waits until the part says `state`. */
  async function supervised(delayMs: number, state: 'starting' | 'running'): Promise<ChildProcess> {
    dir = mkdtempSync(join(tmpdir(), 'parent-link-'));
    const sup = nodeModule(SUPERVISOR, { PART, MARK: mark(), DELAY_MS: String(delayMs) }, [
      'ignore',
      'inherit',
      'inherit',
    ]);
    started.push(sup);
    await waitFor(() => said().startsWith(state), 30_000, `the part ${state}`);
    pids.push(partPid());
    return sup;
  }

  it('stops cleanly when its supervisor is SIGKILLed', async () => {
    const sup = await supervised(0, 'running');
    const pid = partPid();
    sup.kill('SIGKILL');
    await exited(sup);
    await waitFor(() => !alive(pid), 10_000, 'the orphaned part exited');
    expect(said()).toBe('stopped cleanly');
  });

  it('exits when its supervisor dies while it is still starting (it has nothing to stop yet)', async () => {
    // Starting here is a wait, as for a broker that died with the supervisor: the part must not
    // go on to start beside the next supervisor's parts.
    const sup = await supervised(60_000, 'starting');
    const pid = partPid();
    sup.kill('SIGKILL');
    await exited(sup);
    await waitFor(() => !alive(pid), 10_000, 'the orphaned part exited');
    expect(said()).toMatch(/^starting/);
  });

  it('is not stopped by the variable alone, nor by an IPC channel no supervisor linked', async () => {
    dir = mkdtempSync(join(tmpdir(), 'parent-link-'));
    // The variable copied into a process started by hand: no channel, nothing to watch.
    const byHand = nodeModule(PART, { MARK: mark(), [PARENT_LINK_ENV]: 'ipc' }, [
      'ignore',
      'inherit',
      'inherit',
    ]);
    started.push(byHand);
    await waitFor(() => said().startsWith('running'), 30_000, 'the part running');
    // A process forked with a channel of its own (a test runner's worker), whose parent lets go.
    const mark2 = join(dir, 'mark2');
    const forked = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PART], {
      env: { ...process.env, MARK: mark2 },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    started.push(forked);
    await waitFor(
      () => existsSync(mark2) && readFileSync(mark2, 'utf8').startsWith('running'),
      30_000,
      'the forked part running',
    );
    forked.disconnect();
    await new Promise((r) => setTimeout(r, 1_500));
    expect(byHand.exitCode).toBeNull();
    expect(forked.exitCode).toBeNull();
    expect(said()).toMatch(/^running/);
    expect(readFileSync(mark2, 'utf8')).toMatch(/^running/);
  });
});
