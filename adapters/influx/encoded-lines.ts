/**
 * Line-protocol lines encoded into one buffer as they are made, each followed by '\n', with the
 * offset where each ends, so that any run of them is a view of the buffer and a write body is
 * those views side by side.
 *
 * Why: a batch of 5,000 lines kept as strings lived until influxd acknowledged it, long enough to
 * be promoted to the old generation, and was then joined into one more string and encoded again:
 * the joins, the encoding and the garbage they left were more of ingest's CPU per reading than
 * validating the reading. Each line is now encoded at once and its string dies young.
 */
export class EncodedLines {
  private buf: Buffer;
  private used = 0;
  /** Byte offset just after each line's '\n'. */
  private ends: Uint32Array;
  private n = 0;

  constructor(expectedLines: number) {
    this.ends = new Uint32Array(Math.max(16, expectedLines));
    // 192 bytes a line covers a reading of a dozen quantities; more grows the buffer.
    this.buf = Buffer.allocUnsafeSlow(Math.max(4096, expectedLines * 192));
  }

  get count(): number {
    return this.n;
  }

  push(line: string): void {
    this.utf8(line);
    this.endLine();
  }

  // A line written in pieces (line-protocol.ts writes a reading so, without making its string):
  // the pieces, then endLine(); or dropLine() to take back what was written since the last line.

  /** A string of ASCII only (numbers, names): one byte per character, no encoder call. */
  ascii(s: string): void {
    if (this.used + s.length > this.buf.length) this.growBytes(s.length);
    const buf = this.buf;
    let at = this.used;
    for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i);
    this.used = at;
  }

  /** Any string, as UTF-8. */
  utf8(s: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    if (this.used + s.length * 3 > this.buf.length) this.growBytes(s.length * 3);
    this.used += this.buf.write(s, this.used);
  }

  raw(bytes: Uint8Array): void {
    if (this.used + bytes.length > this.buf.length) this.growBytes(bytes.length);
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
  }

  endLine(): void {
    if (this.used + 1 > this.buf.length) this.growBytes(1);
    this.buf[this.used++] = 0x0a;
    if (this.n === this.ends.length) {
      const ends = new Uint32Array(this.ends.length * 2);
      ends.set(this.ends);
      this.ends = ends;
    }
    this.ends[this.n++] = this.used;
  }

  dropLine(): void {
    this.used = this.n === 0 ? 0 : this.ends[this.n - 1]!;
  }

  /** Forgets every line (a scratch buffer reused). */
  clear(): void {
    this.used = 0;
    this.n = 0;
  }

  /** Lines [from, to) as bytes, each ending in '\n' (InfluxDB ignores the last one's). */
  bytes(from: number, to: number): Buffer {
    if (from < 0 || to > this.n || from >= to) throw new RangeError(`no lines [${from}, ${to}) of ${this.n}`);
    return this.buf.subarray(from === 0 ? 0 : this.ends[from - 1]!, this.ends[to - 1]!);
  }

  private growBytes(atLeast: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.used + atLeast));
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }
}
