import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReplayRange } from '../../config/schemas/replay.ts';
import { GapTracker, subtract, type LostRange } from '../../services/metering/ingest/seq-gaps.ts';
import { missingRuns, type SeqIndex } from '../../services/metering/storage.ts';

/**
 * The gap tracker against an in-memory index (a unit test: the end-to-end proof with mosquitto,
 * the gateway and the SQLite store is test/integration/fault-suite.test.ts).
 */

class MemoryIndex implements SeqIndex {
  readonly seqs = new Map<string, Set<number>>();
  queries = 0;
  add(meter: string, ...seqs: number[]): void {
    const set = this.seqs.get(meter) ?? new Set<number>();
    for (const s of seqs) set.add(s);
    this.seqs.set(meter, set);
  }
  async seqMarks(): Promise<Map<string, number>> {
    return new Map([...this.seqs].map(([m, s]) => [m, Math.max(...s)]));
  }
  async missingSeqs(meter: string, from: number, to: number): Promise<[number, number][]> {
    this.queries += 1;
    return missingRuns(
      [...(this.seqs.get(meter) ?? [])].sort((a, b) => a - b),
      from,
      to,
    );
  }
}

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'gaps-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function setup(index: MemoryIndex, t: { now: number }) {
  const requests: { gateway: string; ranges: ReplayRange[] }[] = [];
  const lost: LostRange[] = [];
  const tracker = new GapTracker({
    index,
    placeOf: (meter) => (meter.startsWith('x') ? undefined : { site: 's', gateway: 'gw1' }),
    request: (_site, gateway, ranges) => requests.push({ gateway, ranges }),
    onLost: (l) => lost.push(l),
    ledgerPath: join(dir, 'gaps.sqlite'),
    graceMs: 10_000,
    retryMs: 30_000,
    giveUpMs: 3_600_000,
    maxReplays: 3,
    now: () => t.now,
  });
  const store = (meter: string, ...seqs: number[]) => {
    index.add(meter, ...seqs);
    for (const s of seqs) tracker.stored(meter, s);
  };
  return { tracker, requests, lost, store };
}

describe('GapTracker', () => {
  it('asks nothing while readings arrive in order, and never queries the store for them', async () => {
    const index = new MemoryIndex();
    const t = { now: 0 };
    const { tracker, requests, store } = setup(index, t);
    await tracker.seed();
    for (let s = 1; s <= 100; s++) {
      store('m', s);
      tracker.announced('m', s);
      t.now += 1_000;
      await tracker.check();
    }
    expect(requests).toEqual([]);
    expect(index.queries).toBe(0);
    expect(tracker.gapStats()).toMatchObject({ openMeters: 0, lostRanges: 0 });
  });

  it('after the grace period asks the gateway for exactly what the store lacks, tail included', async () => {
    const index = new MemoryIndex();
    const t = { now: 0 };
    const { tracker, requests, store } = setup(index, t);
    index.add('m', 1, 2, 3);
    await tracker.seed();
    store('m', 4, 7, 8); // 5–6 lost by the broker
    tracker.announced('m', 12); // 9–12 never arrived
    t.now = 9_000;
    await tracker.check();
    expect(requests).toEqual([]); // within the grace: may be in flight
    store('m', 9); // one arrives late
    t.now = 10_500;
    await tracker.check();
    expect(requests).toEqual([
      {
        gateway: 'gw1',
        ranges: [
          { meter: 'm', from: 5, to: 6 },
          { meter: 'm', from: 10, to: 12 },
        ],
      },
    ]);
    // Not asked again before the retry interval; the replay arrives and the gap closes.
    t.now = 20_000;
    await tracker.check();
    expect(requests).toHaveLength(1);
    store('m', 5, 6, 10, 11, 12);
    t.now = 45_000;
    await tracker.check();
    expect(requests).toHaveLength(1);
    expect(tracker.gapStats().openMeters).toBe(0);
  });

  it('reports a range the gateway no longer holds once, by meter and range, and then moves on', async () => {
    const index = new MemoryIndex();
    const t = { now: 0 };
    const { tracker, lost, store, requests } = setup(index, t);
    await tracker.seed();
    store('m', 1, 2, 6, 7, 9);
    t.now = 11_000;
    await tracker.check();
    expect(requests.at(-1)!.ranges).toEqual([
      { meter: 'm', from: 3, to: 5 },
      { meter: 'm', from: 8, to: 8 },
    ]);
    tracker.answered({
      id: 'r1',
      gateway: 'gw1',
      ts: t.now,
      refused: [],
      ranges: [
        { meter: 'm', from: 3, to: 5, queued: 0, pending: 0, missing: [[3, 5]] },
        { meter: 'm', from: 8, to: 8, queued: 0, pending: 0, missing: [[8, 8]] },
      ],
    });
    expect(lost.map((l) => [l.meter, l.from, l.to])).toEqual([
      ['m', 3, 5],
      ['m', 8, 8],
    ]);
    t.now = 60_000;
    await tracker.check();
    t.now = 120_000;
    await tracker.check();
    expect(lost).toHaveLength(2);
    expect(requests).toHaveLength(1);
    expect(tracker.gapStats()).toMatchObject({ openMeters: 0, lostRanges: 2, lostReadings: 4 });
    expect(tracker.lost().map((l) => l.reason)).toEqual([
      'gateway gw1 no longer holds them',
      'gateway gw1 no longer holds them',
    ]);
  });

  it('gives up on a range replayed again and again and never stored, and on a silent gateway after the window', async () => {
    const index = new MemoryIndex();
    const t = { now: 0 };
    const { tracker, lost, store, requests } = setup(index, t);
    await tracker.seed();
    store('a', 1, 3);
    store('b', 1, 3);
    for (let round = 0; round < 5; round++) {
      t.now += 31_000;
      await tracker.check();
      // The gateway replays a's seq 2 every time (it is dead-lettered, say); b's gateway is silent.
      tracker.answered({
        id: `r${round}`,
        gateway: 'gw1',
        ts: t.now,
        refused: [],
        ranges: [{ meter: 'a', from: 2, to: 2, queued: 1, pending: 0, missing: [] }],
      });
    }
    expect(lost.map((l) => [l.meter, l.from, l.to])).toEqual([['a', 2, 2]]);
    expect(lost[0]!.reason).toMatch(/replayed 3 times/);
    const asksForB = requests.flatMap((r) => r.ranges).filter((r) => r.meter === 'b').length;
    expect(asksForB).toBe(5);
    t.now += 3_600_000;
    await tracker.check();
    expect(lost.map((l) => [l.meter, l.from, l.to])).toEqual([
      ['a', 2, 2],
      ['b', 2, 2],
    ]);
    expect(lost[1]!.reason).toMatch(/no answer from the gateway/);
  });

  it('follows an open gap across a restart and does not report a lost range twice', async () => {
    const index = new MemoryIndex();
    const t = { now: 0 };
    let s = setup(index, t);
    await s.tracker.seed();
    s.store('m', 1, 2, 5, 8);
    t.now = 11_000;
    await s.tracker.check();
    s.tracker.answered({
      id: 'r',
      gateway: 'gw1',
      ts: t.now,
      refused: [],
      ranges: [{ meter: 'm', from: 6, to: 7, queued: 0, pending: 0, missing: [[6, 7]] }],
    });
    expect(s.lost.map((l) => [l.from, l.to])).toEqual([[6, 7]]);
    s.tracker.close();

    s = setup(index, t);
    await s.tracker.seed();
    t.now = 60_000;
    await s.tracker.check();
    // Still asks for 3–4 (below the store's highest seq), not for 6–7 again.
    expect(s.requests.at(-1)!.ranges).toEqual([{ meter: 'm', from: 3, to: 4 }]);
    s.store('m', 3, 4);
    t.now = 100_000;
    await s.tracker.check();
    expect(s.lost).toEqual([]);
    expect(s.tracker.gapStats()).toMatchObject({ openMeters: 0, lostRanges: 1 });
    s.tracker.close();
  });

  it("trusts the ledger, not the store's highest seq: a hole left by an ingest killed before it wrote its marks is found", async () => {
    const index = new MemoryIndex();
    const t = { now: 0 };
    // The previous ingest stored 2–10 and died before its ledger said anything; 1 never came.
    index.add('m', 2, 3, 4, 5, 6, 7, 8, 9, 10);
    // A complete history (rendered, imported) is verified once and asks for nothing.
    index.add('h', ...Array.from({ length: 500 }, (_, i) => i + 1));
    const { tracker, requests } = setup(index, t);
    await tracker.seed();
    t.now = 11_000;
    await tracker.check();
    expect(requests).toEqual([{ gateway: 'gw1', ranges: [{ meter: 'm', from: 1, to: 1 }] }]);
    expect(tracker.gapStats().openMeters).toBe(1);
    tracker.close();
  });

  it('ignores meters outside the registry', async () => {
    const index = new MemoryIndex();
    const t = { now: 0 };
    const { tracker, requests, store } = setup(index, t);
    await tracker.seed();
    store('x1', 1, 5);
    tracker.announced('x1', 9);
    t.now = 60_000;
    await tracker.check();
    expect(requests).toEqual([]);
  });

  it('subtracts ranges', () => {
    expect(
      subtract(
        [[1, 10]],
        [
          [3, 4],
          [7, 7],
        ],
      ),
    ).toEqual([
      [1, 2],
      [5, 6],
      [8, 10],
    ]);
    expect(subtract([[1, 3]], [[1, 3]])).toEqual([]);
    expect(missingRuns([2, 3, 7], 1, 8)).toEqual([
      [1, 1],
      [4, 6],
      [8, 8],
    ]);
  });
});
