/**
 * A deterministic uniform random source in [0, 1) (mulberry32), from a 32-bit seed: for draws a
 * person must be able to repeat (an audit re-running a manual-reading rota draw with its recorded
 * seed) and for randomised tests that must fail the same way twice. Not for secrets.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
