import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LIVE_ERRORS } from '../../services/metering/live/errors.ts';
import { Fanout, type SseSink } from '../../services/metering/live/fanout.ts';
import { decimate } from '../../services/metering/live/routes.ts';

/** A socket whose buffer fills after `capacity` writes until drained by hand. */
class FakeSink implements SseSink {
  readonly chunks: string[] = [];
  private inBuffer = 0;
  private drainListeners: (() => void)[] = [];
  constructor(private readonly capacity: number) {}
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    this.inBuffer++;
    return this.inBuffer < this.capacity;
  }
  once(_event: 'drain', listener: () => void): void {
    this.drainListeners.push(listener);
  }
  drain(): void {
    this.inBuffer = 0;
    for (const l of this.drainListeners.splice(0)) l();
  }
  events(): string[] {
    return this.chunks.join('').split('\n\n').filter(Boolean);
  }
}

const ev = (meter: string, n: number) => `event: reading\ndata: ${meter}#${n}\n\n`;

describe('SSE fan-out with backpressure', () => {
  it('a slow client gets the newest value per meter, drops are counted, fast clients are not held up', () => {
    const fanout = new Fanout(1_000_000);
    const slow = new FakeSink(1);
    const fast = new FakeSink(Infinity);
    const s = fanout.subscribe(null, slow);
    const f = fanout.subscribe(null, fast);
    fanout.publish('A', ev('A', 1));
    fanout.flush();
    // The slow socket is now full: 1,000 more values of two meters wait as two events.
    for (let i = 2; i <= 1001; i++) {
      fanout.publish('A', ev('A', i));
      fanout.publish('B', ev('B', i));
      fanout.flush();
    }
    expect(slow.events()).toEqual(['event: reading\ndata: A#1']);
    expect(fast.events()).toHaveLength(1 + 2000);
    expect(s.dropped).toBe(999 * 2);
    expect(f.dropped).toBe(0);
    slow.drain();
    fanout.flush();
    expect(slow.events().slice(1)).toEqual(['event: reading\ndata: A#1001', 'event: reading\ndata: B#1001']);
    expect(fanout.stats()).toEqual({ clients: 2, sent: 3 + 2001, dropped: 1998 });
    s.close();
    expect(fanout.stats().clients).toBe(1);
  });

  it('a client watching some meters gets only those, starting with the initial values', () => {
    const fanout = new Fanout(1_000_000);
    const sink = new FakeSink(Infinity);
    fanout.subscribe(['B'], sink, [
      ['A', ev('A', 0)],
      ['B', ev('B', 0)],
    ]);
    fanout.publish('A', ev('A', 1));
    fanout.flush();
    expect(sink.events()).toEqual(['event: reading\ndata: B#0']);
    fanout.publish('B', ev('B', 1));
    fanout.flush();
    expect(sink.events()).toEqual(['event: reading\ndata: B#0', 'event: reading\ndata: B#1']);
  });
});

describe('series decimation', () => {
  it('keeps at most the cap, in time order, with each bucket’s extremes', () => {
    const points = Array.from({ length: 10_000 }, (_, i) => [i * 1000, Math.sin(i / 50)] as [number, number]);
    points[4321] = [4321 * 1000, 7];
    points[8765] = [8765 * 1000, -7];
    const out = decimate(points, 5000);
    expect(out.length).toBeLessThanOrEqual(5000);
    expect(out.length).toBeGreaterThan(4000);
    expect(out).toContainEqual([4321 * 1000, 7]);
    expect(out).toContainEqual([8765 * 1000, -7]);
    for (let i = 1; i < out.length; i++) expect(out[i]![0]).toBeGreaterThan(out[i - 1]![0]);
    expect(decimate(points.slice(0, 10), 5000)).toEqual(points.slice(0, 10));
  });
});

describe('live error catalogue', () => {
  it('every code is described and used', () => {
    const source = readFileSync(new URL('../../services/metering/live/routes.ts', import.meta.url), 'utf8');
    for (const [code, entry] of Object.entries(LIVE_ERRORS)) {
      expect(entry.description.length).toBeGreaterThan(10);
      expect(source).toContain(`'${code}'`);
    }
  });
});
