import { describe, expect, it } from 'vitest';
import { AckLedger } from '../../services/metering/ingest/ack-ledger.ts';
import { RecentSeqs } from '../../services/metering/ingest/recent-seqs.ts';
import { prng } from './support.ts';

/** The PUBACK ids in a buffer of 4-byte PUBACK packets, each checked for its type and length. */
function ids(buf: Buffer | undefined): number[] {
  const out: number[] = [];
  if (!buf) return out;
  for (let i = 0; i < buf.length; i += 4) {
    expect([buf[i], buf[i + 1]]).toEqual([0x40, 2]);
    out.push(buf.readUInt16BE(i + 2));
  }
  return out;
}

describe('AckLedger', () => {
  it('acknowledges in arrival order whatever order the messages finish in, across growth and reconnects', () => {
    const rand = prng(7);
    const ledger = new AckLedger();
    // The same bookkeeping done the obvious way: a list of objects.
    let model: { ticket: number; id: number; done: boolean }[] = [];
    const sent: number[] = [];
    const expected: number[] = [];
    let stale: number[] = [];
    let most = 0;
    for (let step = 0; step < 200_000; step++) {
      const r = rand();
      if (r < 0.35 || model.length === 0) {
        const id = 1 + Math.floor(rand() * 65_535);
        model.push({ ticket: ledger.push(id), id, done: false });
      } else if (r < 0.9) {
        const m = model[Math.floor(rand() ** 2 * model.length)]!;
        m.done = true;
        ledger.complete(m.ticket);
      } else if (r < 0.9995) {
        sent.push(...ids(ledger.take()));
        while (model[0]?.done) expected.push(model.shift()!.id);
      } else {
        // The connection closed: nothing owed on it is sent, and its tickets stay stale.
        stale = model.map((m) => m.ticket);
        expect(ledger.reset()).toBe(model.length);
        model = [];
      }
      if (stale.length > 0 && rand() < 0.01) ledger.complete(stale[Math.floor(rand() * stale.length)]!);
      if (ledger.size !== model.length) expect(ledger.size).toBe(model.length);
      most = Math.max(most, model.length);
    }
    expect(sent).toEqual(expected);
    expect(sent.length).toBeGreaterThan(20_000);
    // The ring started at 1,024 and had to grow.
    expect(most).toBeGreaterThan(1024);
  });

  it('takes nothing until the oldest message is done', () => {
    const ledger = new AckLedger();
    const a = ledger.push(1);
    const b = ledger.push(2);
    ledger.complete(b);
    expect(ledger.take()).toBeUndefined();
    ledger.complete(a);
    expect(ids(ledger.take())).toEqual([1, 2]);
    expect(ledger.current(a)).toBe(false);
  });
});

describe('RecentSeqs', () => {
  it('knows only readings it was told of, and every one of the 31 seqs below a meter’s highest', () => {
    const rand = prng(11);
    const recent = new RecentSeqs();
    const stored = new Map<string, Set<number>>();
    const high = new Map<string, number>();
    for (let i = 0; i < 100_000; i++) {
      const meter = `M${Math.floor(rand() * 20)}`;
      const top = high.get(meter) ?? 0;
      // Mostly the next seq, sometimes a jump ahead or a late one behind.
      const seq = Math.max(0, rand() < 0.8 ? top + 1 : top + Math.floor((rand() - 0.6) * 90));
      const probe = Math.max(0, top - Math.floor(rand() * 40));
      const known = stored.get(meter)?.has(probe) ?? false;
      const answer = recent.has(meter, probe);
      // Never a reading it was not told of (that would skip a write); within the window, all.
      if (answer) expect(known).toBe(true);
      if (known && top - probe < 32) expect(answer, `${meter} ${probe} below ${top}`).toBe(true);
      if (rand() < 0.9) {
        recent.add(meter, seq);
        if (!stored.has(meter)) stored.set(meter, new Set());
        stored.get(meter)!.add(seq);
        high.set(meter, Math.max(top, seq));
      }
    }
  });
});
