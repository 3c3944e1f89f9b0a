import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { everyInterval, timerFamilies, type RepeatingJob } from '../../services/platform/timers.ts';

/**
 * The platform's one helper for work repeated on a timer (services/platform/timers.ts): a job
 * that throws or rejects is logged with its name, counted, and runs again at the next tick; the
 * process lives on; a slow job never runs twice at once; a stopped job waits for its run.
 */

const run = promisify(execFile);

function memoryLogger() {
  const lines: { job: string; msg: string; err: unknown }[] = [];
  return {
    lines,
    error: (obj: object, msg: string) => lines.push({ ...(obj as { job: string; err: unknown }), msg }),
  };
}

function sample(family: string, job: string): number | undefined {
  return timerFamilies()
    .find((f) => f.name === family)
    ?.samples.find((s) => s.labels?.['job'] === job)?.value;
}

describe('everyInterval', () => {
  const jobs: RepeatingJob[] = [];
  beforeEach(() => vi.useFakeTimers());
  afterEach(async () => {
    for (const j of jobs.splice(0)) await j.stop();
    vi.useRealTimers();
  });

  it('a job that throws and one that rejects are logged by name and run again at the next tick', async () => {
    const log = memoryLogger();
    let thrown = 0;
    let rejected = 0;
    jobs.push(
      everyInterval(
        'test-throws',
        1000,
        () => {
          thrown++;
          throw new Error('database is locked');
        },
        log,
      ),
      everyInterval(
        'test-rejects',
        1000,
        async () => {
          rejected++;
          await Promise.resolve();
          throw new Error('broker gone');
        },
        log,
      ),
    );
    await vi.advanceTimersByTimeAsync(999);
    expect([thrown, rejected]).toEqual([0, 0]);
    await vi.advanceTimersByTimeAsync(1);
    expect([thrown, rejected]).toEqual([1, 1]);
    await vi.advanceTimersByTimeAsync(2000);
    expect([thrown, rejected]).toEqual([3, 3]);
    expect(log.lines.filter((l) => l.job === 'test-throws')).toHaveLength(3);
    expect(log.lines.filter((l) => l.job === 'test-rejects')).toHaveLength(3);
    expect(log.lines[0]!.msg).toMatch(/^test-throws failed/);
    expect(String(log.lines[1]!.err)).toMatch(/broker gone/);
    expect(sample('campus_energy_timer_failures_total', 'test-throws')).toBe(3);
    expect(sample('campus_energy_timer_runs_total', 'test-rejects')).toBe(3);
  });

  it('a slow job never runs twice at once: ticks during a run are skipped and counted', async () => {
    let active = 0;
    let most = 0;
    let runs = 0;
    const job = everyInterval(
      'test-slow',
      100,
      async () => {
        runs++;
        most = Math.max(most, ++active);
        await new Promise((r) => setTimeout(r, 350));
        active--;
      },
      memoryLogger(),
    );
    // Runs start at 100, 500 and 900; the ticks at 200-400, 600-800 and 1000 fall in a run.
    await vi.advanceTimersByTimeAsync(1000);
    expect(most).toBe(1);
    expect(runs).toBe(3);
    expect(sample('campus_energy_timer_skipped_total', 'test-slow')).toBe(7);
    const stopping = job.stop();
    await vi.advanceTimersByTimeAsync(250);
    await stopping;
  });

  it('runNow during a run waits for that run; stop waits for it and ends the ticks', async () => {
    let runs = 0;
    let finished = 0;
    const job = everyInterval(
      'test-stop',
      100,
      async () => {
        runs++;
        await new Promise((r) => setTimeout(r, 50));
        finished++;
      },
      memoryLogger(),
    );
    const first = job.runNow();
    const second = job.runNow();
    expect(runs).toBe(1);
    const stopping = job.stop();
    await vi.advanceTimersByTimeAsync(50);
    await Promise.all([first, second, stopping]);
    expect(finished).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(runs).toBe(1);
  });

  it('starts its first run after firstAfterMs when given', async () => {
    let runs = 0;
    jobs.push(everyInterval('test-first', 1000, () => void runs++, memoryLogger(), { firstAfterMs: 10 }));
    await vi.advanceTimersByTimeAsync(10);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(runs).toBe(2);
  });

  it('refuses an interval that is not a positive number, naming the job', () => {
    expect(() => everyInterval('test-bad', 0, () => undefined, memoryLogger())).toThrow(/test-bad.*0 ms/);
  });
});

describe('everyInterval in a process of its own', () => {
  it('keeps the process alive through jobs that throw and reject on every run', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'test/platform/fixtures/failing-timers.ts'],
      {
        timeout: 30_000,
      },
    );
    const lines = stdout.trim().split('\n');
    expect(lines.at(-1)).toBe('alive');
    const logged = lines.slice(0, -1).map((l) => JSON.parse(l) as { job: string; err: string });
    expect(logged.filter((l) => l.job === 'throws').length).toBeGreaterThanOrEqual(3);
    expect(logged.filter((l) => l.job === 'rejects').length).toBeGreaterThanOrEqual(3);
    expect(logged.find((l) => l.job === 'rejects')!.err).toMatch(/async failure/);
  });
});
