import { describe, expect, it } from 'vitest';
import { monotonicNow, wallTimeOf } from '../../gateway/monotonic.ts';

// On the real clocks (no fake timers: those return whole numbers and hid this once): a due time
// becomes a reading's ts, which the contract wants an integer.
describe('monotonic time', () => {
  it('is whole milliseconds, close to the wall clock, and maps back to whole wall-clock ms', () => {
    for (let i = 0; i < 100; i++) {
      const mono = monotonicNow();
      expect(Number.isInteger(mono)).toBe(true);
      expect(Number.isInteger(wallTimeOf(mono + 0.5))).toBe(true);
      expect(Math.abs(wallTimeOf(mono) - Date.now())).toBeLessThan(50);
    }
  });
});
