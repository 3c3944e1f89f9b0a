/**
 * Which readings this ingest instance stored moments ago, so that an exact redelivery (the broker
 * resending what was stored but not yet acknowledged when a connection dropped, a gateway
 * replaying) is acknowledged without a write. Per meter: its highest stored seq and a bit for each
 * of the 31 seqs below it. A seq further back is simply not known here and is written again: the
 * stores are idempotent per (meter, seq), so this is a saving, never a check anything relies on.
 *
 * One small record per meter instead of a string key per reading: the keys were a measurable part
 * of ingest's garbage, and long-lived ones were promoted to the old generation.
 */
export class RecentSeqs {
  private readonly meters = new Map<string, { high: number; bits: number }>();

  has(meter: string, seq: number): boolean {
    const m = this.meters.get(meter);
    if (!m || seq > m.high) return false;
    const back = m.high - seq;
    return back === 0 || (back < 32 && (m.bits & (1 << (back - 1))) !== 0);
  }

  add(meter: string, seq: number): void {
    const m = this.meters.get(meter);
    if (!m) {
      this.meters.set(meter, { high: seq, bits: 0 });
      return;
    }
    if (seq > m.high) {
      const shift = seq - m.high;
      // The old high becomes bit shift-1; bits shifted past 31 are forgotten.
      m.bits = shift >= 32 ? 0 : ((m.bits << shift) | (1 << (shift - 1))) >>> 0;
      m.high = seq;
    } else if (seq < m.high && m.high - seq < 32) {
      m.bits = (m.bits | (1 << (m.high - seq - 1))) >>> 0;
    }
  }
}
