/**
 * Seeded randomness. Physical values come from `hash01(seed, …)` of the simulated time, not from a
 * stream, so a meter's readings depend only on its seed and the time, never on how often or in
 * which order it was read.
 */

/** A well-mixed 32-bit hash of up to three integers (murmur3 finaliser). */
export function hash32(seed: number, a: number, b = 0): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (a | 0), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ ((a / 0x100000000) | 0), 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ (b | 0), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Uniform in [0, 1), a pure function of its arguments. */
export function hash01(seed: number, a: number, b = 0): number {
  return hash32(seed, a, b) / 0x100000000;
}

/** Uniform in [-1, 1). */
export function hashSigned(seed: number, a: number, b = 0): number {
  return hash01(seed, a, b) * 2 - 1;
}

/** A seeded stream in [0, 1) (mulberry32), for things that are not functions of time. */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000;
  };
}
