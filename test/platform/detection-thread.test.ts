import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import type { LoadedCampus } from '../../config/campus.ts';
import { AlertStore } from '../../services/inspection/detection/alerts.ts';
import { detectorSet } from '../../services/inspection/detection/campus-detectors.ts';
import { DetectionThread } from '../../services/inspection/detection/detection-thread.ts';
import { inputFromStore } from '../../services/inspection/detection/input.ts';
import { createLiveEvaluator } from '../../services/inspection/detection/live.ts';
import { startDetection } from '../../services/inspection/detection/service.ts';
import { renderScenario } from '../../simulators/scenario/render.ts';
import { tempBackoffice } from '../audit/helpers.ts';
import {
  DAY,
  HOUR,
  MIN,
  campusScenario,
  scenarioCampus,
  scenarioRegistrations,
} from '../detection/heating-loads-support.ts';
import { waitFor } from '../helpers/readings.ts';
import { CRASH_AT, EXIT_AT, FAIL_AT } from './fixtures/crashing-detectors.ts';

const CRASHING = new URL('./fixtures/crashing-detectors.ts', import.meta.url).href;

/** A logger whose lines the test reads. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  return { logger, lines };
}

describe('detection in a worker thread', () => {
  const dir = mkdtempSync(join(tmpdir(), 'campus-detection-thread-'));
  // Six dorm rooms; R3's meter registers 30 % of what it takes from day 13 on.
  const scenario = campusScenario({
    rooms: 6,
    start: '2026-10-01T00:00:00+08:00',
    injections: [{ type: 'bypass', node: 'R3', factor: 0.3, from: '+13d' }],
  });
  const end = scenario.start + 16 * DAY;
  let campus: LoadedCampus;
  let store: SqliteStore;
  beforeAll(async () => {
    const base = scenarioCampus(scenario);
    const storage = {
      ...base.config.storage,
      sqlite: { ...base.config.storage.sqlite, path: 'readings.sqlite' },
    };
    campus = { ...base, dataDir: dir, config: { ...base.config, storage } };
    // The writer, as ingest holds it; the thread opens the same file read-only.
    store = SqliteStore.open({ path: join(dir, 'readings.sqlite') });
    await renderScenario(scenario, {
      from: scenario.start,
      to: end,
      stepMs: HOUR,
      writer: store,
      truth: 'totals',
    });
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const setup = () => ({
    campus: { file: campus.file, config: campus.config, dataDir: campus.dataDir },
    windowMs: 6 * HOUR,
  });

  it('finds what the same engine finds on the main thread, from a store connection of its own', async () => {
    const heating = scenarioRegistrations(scenario);
    const thread = new DetectionThread({ setup: setup(), logger: pino({ level: 'silent' }) });
    try {
      const inThread = await thread.evaluate({ now: end, heating });
      // The recomputation: the same evaluator run here, on the writer's handle.
      const set = detectorSet();
      const here = createLiveEvaluator({ store, campus, ...set, heating: () => heating });
      await here.prepare(end);
      const input = await inputFromStore(store, campus, { from: end - 6 * HOUR, to: end, heating });
      const onMain = here.detect(input);
      expect(inThread).toEqual(onMain);
      const alerting = inThread.scores.filter((s) => s.kind === 'meter' && s.alert).map((s) => s.id);
      expect(alerting).toEqual(['E-R3']);
      const balance = inThread.findings.find((f) => f.type === 'energy-balance' && f.node === 'E-D1');
      expect(balance?.suspects?.[0]?.meter).toBe('E-R3');
      expect(thread.stats()).toMatchObject({ crashes: 0, starts: 1, up: true });
    } finally {
      await thread.stop();
    }
  });

  it('syncs and keeps the alerts on the main thread, from the findings the thread sends back', async () => {
    const thread = new DetectionThread({ setup: setup(), logger: pino({ level: 'silent' }) });
    const t = tempBackoffice();
    const alerts = new AlertStore(t.db, t.audit, t.clock);
    const published: string[] = [];
    const detection = startDetection({
      store,
      campus,
      alerts,
      publish: (topic) => void published.push(topic),
      intervalMs: 3_600_000_000,
      windowMs: 6 * HOUR,
      clock: () => end,
      evaluate: (now) => thread.evaluate({ now, heating: scenarioRegistrations(scenario) }),
    });
    try {
      const sync = await detection.runOnce();
      // The feeder's loss, with R3's meter as its first suspect.
      expect(sync.opened.map((a) => a.node)).toContain('E-D1');
      expect(alerts.list({}).some((a) => a.node === 'E-D1' && a.state === 'open')).toBe(true);
      expect(published.length).toBe(sync.opened.length);
    } finally {
      await thread.stop();
      await detection.stop();
    }
  });

  it('a thread that throws or exits is logged, counted and restarted after a pause; a run that throws is only that run', async () => {
    const { logger, lines } = capturedLogger();
    const thread = new DetectionThread({
      setup: { ...setup(), detectors: CRASHING },
      logger,
      restartMinMs: 1000,
      restartMaxMs: 4000,
    });
    const died = () => lines.filter((l) => l.msg === 'detection thread died; restarting it after a pause');
    try {
      await expect(thread.evaluate({ now: CRASH_AT - HOUR })).resolves.toHaveProperty('findings');
      // An error thrown where nobody catches it ends the thread (never this process).
      await thread.evaluate({ now: CRASH_AT });
      await waitFor(() => thread.stats().crashes === 1, 10_000, 'the crash');
      expect(died()[0]).toMatchObject({
        err: { message: 'the detector exploded' },
        crashes: 1,
        restartInMs: 1000,
      });
      // Until the new thread is up, a run is refused with the reason, not left waiting.
      await expect(thread.evaluate({ now: CRASH_AT + 30 * MIN })).rejects.toThrow(/restarting after a crash/);
      await waitFor(() => thread.stats().up, 10_000, 'the restart');
      await expect(thread.evaluate({ now: CRASH_AT + 30 * MIN })).resolves.toHaveProperty('findings');
      expect(thread.stats()).toMatchObject({ crashes: 1, starts: 2 });

      // The thread ends in the middle of a run: that run fails with why, and the thread comes back.
      await expect(thread.evaluate({ now: EXIT_AT })).rejects.toThrow(/detection thread died.*code 7/);
      await waitFor(() => thread.stats().up, 10_000, 'the second restart');
      expect(thread.stats()).toMatchObject({ crashes: 2, starts: 3 });
      // A run that succeeded in between put the pause back to its shortest.
      expect(died()[1]).toMatchObject({ crashes: 2, restartInMs: 1000 });

      // A run that throws is that run's error: no crash, no restart.
      await expect(thread.evaluate({ now: FAIL_AT })).rejects.toThrow('the detector refused this window');
      await expect(thread.evaluate({ now: FAIL_AT + HOUR })).resolves.toHaveProperty('findings');
      expect(thread.stats()).toMatchObject({ crashes: 2, starts: 3, up: true });
    } finally {
      await thread.stop();
    }
  });

  it('two crashes in a row double the pause, up to its ceiling', async () => {
    const { logger, lines } = capturedLogger();
    // A detector module that is not there: every thread dies at setup.
    const thread = new DetectionThread({
      setup: { ...setup(), detectors: new URL('./fixtures/no-such-detectors.ts', import.meta.url).href },
      logger,
      restartMinMs: 100,
      restartMaxMs: 200,
    });
    try {
      await expect(thread.evaluate({ now: end })).rejects.toThrow(/detection thread/);
      await waitFor(() => thread.stats().crashes >= 3, 10_000, 'three crashes');
      const pauses = lines.filter((l) => l.restartInMs !== undefined).map((l) => l.restartInMs);
      expect(pauses.slice(0, 3)).toEqual([100, 200, 200]);
      expect(String((lines[0]!.err as { message: string }).message)).toMatch(/no-such-detectors/);
    } finally {
      await thread.stop();
    }
  });
});
