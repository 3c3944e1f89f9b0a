import { describe, expect, it } from 'vitest';
import { startSupervisor } from '../../services/platform/supervisor/supervisor.ts';
import { testLogger } from '../helpers/logger.ts';

/** Real child processes (`node -e`): what the supervisor restarts, how often, and how it stops. */

const node = process.execPath;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('startSupervisor', () => {
  it('restarts a failing part alone, backing off, and leaves a healthy one running', async () => {
    const sup = startSupervisor({
      logger: testLogger(),
      restartBaseMs: 100,
      restartMaxMs: 400,
      children: [
        { name: 'crashy', command: node, args: ['-e', 'process.exit(3)'] },
        { name: 'steady', command: node, args: ['-e', 'setInterval(() => {}, 1000)'] },
      ],
    });
    const started = Date.now();
    while (sup.stats()[0]!.restarts < 3) {
      if (Date.now() - started > 30_000) throw new Error('the crashing part was not restarted three times');
      await sleep(20);
    }
    const [crashy, steady] = sup.stats();
    // The third restart is counted after two backoffs (100 + 200 ms): a restart loop would be far faster.
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(crashy!.lastExit?.code).toBe(3);
    expect(steady!.restarts).toBe(0);
    expect(steady!.running).toBe(true);
    const pid = steady!.pid!;
    await sup.stop();
    expect(sup.stats().every((s) => !s.running)).toBe(true);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('kills a part that ignores SIGTERM once the stop timeout has passed', async () => {
    const sup = startSupervisor({
      logger: testLogger(),
      stopTimeoutMs: 500,
      children: [
        {
          name: 'stubborn',
          command: node,
          args: ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"],
        },
      ],
    });
    await sleep(500);
    const started = Date.now();
    await sup.stop();
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(sup.stats()[0]!.lastExit?.signal).toBe('SIGKILL');
  });
});
