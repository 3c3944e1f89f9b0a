import { createHash } from 'node:crypto';

/**
 * A seeded weighted draw without replacement (Efraimidis & Spirakis 2006): each candidate gets the
 * key ln(u)/w, with u in (0, 1) taken from SHA-256(seed:id), and the k largest keys are drawn. The
 * same seed and weights give the same list on any machine and in any candidate order, so a list
 * recorded with its seed can be recomputed by anyone; a heavier candidate is drawn more often.
 */

export interface Candidate {
  id: string;
  /** A positive whole number. */
  weight: number;
}

/** The uniform number in (0, 1) a seed gives a candidate: 52 bits of SHA-256, never 0 or 1. */
export function uniformOf(seed: string, id: string): number {
  const h = createHash('sha256').update(`${seed}:${id}`).digest();
  const bits = h.readUIntBE(0, 6) * 2 ** -48 + (h[6]! >> 4) * 2 ** -52;
  return bits + 2 ** -53;
}

export function weightedDraw(candidates: readonly Candidate[], k: number, seed: string): string[] {
  return candidates
    .map((c) => ({ id: c.id, key: Math.log(uniformOf(seed, c.id)) / c.weight }))
    .sort((a, b) => b.key - a.key || a.id.localeCompare(b.id))
    .slice(0, Math.max(0, k))
    .map((c) => c.id);
}
