import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { everyInterval, timerFamilies, type RepeatingJob } from '../../services/platform/timers.ts';

/**
 * The attack on timed jobs (services/platform/timers.ts): a run whose promise never settles (a
 * broker that never acks, a lock never released) must not silently stop every later run of that
 * job for ever. A run that outlives its run timeout (default: its interval, and at least ten
 * minutes) is given up on: logged by name as an error, counted, shown as a run still hanging in
 * /metrics, and the job's next tick runs; a stop does not wait on it for ever. If it settles late,
 * that is logged and it no longer counts as hanging.
 */

function memoryLogger() {
  const lines: { job: string; msg: string }[] = [];
  return { lines, error: (obj: object, msg: string) => lines.push({ ...(obj as { job: string }), msg }) };
}

function sample(family: string, job: string): number | undefined {
  return timerFamilies()
    .find((f) => f.name === family)
    ?.samples.find((s) => s.labels?.['job'] === job)?.value;
}

describe('a timed job whose run never settles', () => {
  const jobs: RepeatingJob[] = [];
  beforeEach(() => vi.useFakeTimers());
  afterEach(async () => {
    for (const j of jobs.splice(0)) await j.stop();
    vi.useRealTimers();
  });

  it('is given up on after its run timeout, said so by name, and the next tick runs', async () => {
    const log = memoryLogger();
    let calls = 0;
    let finishFirst: () => void = () => undefined;
    jobs.push(
      everyInterval(
        'attack-hangs',
        60_000,
        () => {
          calls++;
          // The first run hangs until the test lets it go; later runs finish at once.
          return calls === 1 ? new Promise<void>((resolve) => (finishFirst = resolve)) : undefined;
        },
        log,
      ),
    );
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toBe(1);
    // Ticks within the run timeout (ten minutes here) are skipped: no two runs at once.
    await vi.advanceTimersByTimeAsync(8 * 60_000);
    expect(calls).toBe(1);
    expect(log.lines).toEqual([]);
    await vi.advanceTimersByTimeAsync(3 * 60_000);
    expect(log.lines).toEqual([expect.objectContaining({ job: 'attack-hangs' })]);
    expect(log.lines[0]!.msg).toMatch(/attack-hangs.*not finished after 600 s/);
    expect(sample('campus_energy_timer_timeouts_total', 'attack-hangs')).toBe(1);
    expect(sample('campus_energy_timer_hanging_runs', 'attack-hangs')).toBe(1);
    // The next ticks run again.
    await vi.advanceTimersByTimeAsync(2 * 60_000);
    expect(calls).toBeGreaterThanOrEqual(2);
    // The hung run settling late is said so, and no longer counts as hanging.
    finishFirst();
    await vi.advanceTimersByTimeAsync(0);
    expect(sample('campus_energy_timer_hanging_runs', 'attack-hangs')).toBe(0);
    expect(log.lines.at(-1)!.msg).toMatch(/attack-hangs.*finished .* after it was given up on/);
  });

  it('does not hold a stop for ever', async () => {
    const log = memoryLogger();
    const job = everyInterval('attack-stop', 1000, () => new Promise<void>(() => undefined), log, {
      runTimeoutMs: 5000,
    });
    await vi.advanceTimersByTimeAsync(1000);
    let stopped = false;
    void job.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(4000);
    expect(stopped).toBe(false); // a run within its timeout is waited for (the database under it)
    await vi.advanceTimersByTimeAsync(1000);
    expect(stopped).toBe(true);
    expect(log.lines.map((l) => l.job)).toEqual(['attack-stop']);
  });

  it('refuses a run timeout that is not a positive number', () => {
    expect(() =>
      everyInterval('attack-bad', 1000, () => undefined, memoryLogger(), { runTimeoutMs: 0 }),
    ).toThrow(/attack-bad: run timeout 0 ms/);
  });
});
