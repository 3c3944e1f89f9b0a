import { describe, expect, it } from 'vitest';
import { EncodedLines } from '../../adapters/influx/encoded-lines.ts';
import { prng } from './support.ts';

/**
 * The InfluxDB write body is views of lines encoded as they came: any run of lines must be, byte
 * for byte, those lines as UTF-8 each followed by '\n', whatever their length or alphabet (an
 * error message may be Chinese; a tag value may hold an emoji), across the buffer's growth.
 */
describe('EncodedLines', () => {
  it('gives any run of lines as their UTF-8 bytes, each ending in a newline', () => {
    const rand = prng(20261207);
    const alphabet = ['a', 'Z', '9', ' ', ',', '=', '"', '\\', '电', '表', 'é', '😀'];
    for (let round = 0; round < 200; round++) {
      const n = 1 + Math.floor(rand() * 60);
      // Expected far fewer lines (or much shorter ones) than come: both arrays must grow.
      const encoded = new EncodedLines(Math.floor(rand() * 4));
      const lines: string[] = [];
      for (let i = 0; i < n; i++) {
        let line = '';
        for (let k = Math.floor(rand() * (rand() < 0.1 ? 3000 : 200)); k > 0; k--)
          line += alphabet[Math.floor(rand() * alphabet.length)];
        lines.push(line);
        encoded.push(line);
      }
      expect(encoded.count).toBe(n);
      for (let k = 0; k < 20; k++) {
        const from = Math.floor(rand() * n);
        const to = from + 1 + Math.floor(rand() * (n - from));
        const expected = Buffer.from(
          lines
            .slice(from, to)
            .map((l) => `${l}\n`)
            .join(''),
          'utf8',
        );
        expect(encoded.bytes(from, to).equals(expected)).toBe(true);
      }
    }
  });

  it('refuses a run it does not hold', () => {
    const encoded = new EncodedLines(2);
    encoded.push('a');
    expect(() => encoded.bytes(0, 2)).toThrow(RangeError);
    expect(() => encoded.bytes(1, 1)).toThrow(RangeError);
    expect(encoded.bytes(0, 1).toString()).toBe('a\n');
  });
});
