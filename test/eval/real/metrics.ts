/** Figures of the real-data evaluation: AUC, recall at a false-positive rate, spread over seeds. */

/** Area under the ROC curve (Mann–Whitney, ties count half); NaN without both classes. */
export function auc(pos: readonly number[], neg: readonly number[]): number {
  if (pos.length === 0 || neg.length === 0) return Number.NaN;
  const all = [...pos.map((s) => ({ s, p: 1 })), ...neg.map((s) => ({ s, p: 0 }))].sort((a, b) => a.s - b.s);
  // Rank sum with ties at their mean rank: O(n log n), so thousands of meters stay cheap.
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j]!.s === all[i]!.s) j++;
    const mean = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k]!.p) rankSum += mean;
    i = j;
  }
  return (rankSum - (pos.length * (pos.length + 1)) / 2) / (pos.length * neg.length);
}

/** Share of positives scored above the (1 − fp) quantile of the negatives. */
export function recallAtFp(pos: readonly number[], neg: readonly number[], fp = 0.05): number {
  if (pos.length === 0 || neg.length === 0) return Number.NaN;
  const sorted = [...neg].sort((a, b) => a - b);
  const thr = sorted[Math.min(sorted.length - 1, Math.floor((1 - fp) * sorted.length))]!;
  return pos.filter((s) => s > thr).length / pos.length;
}

export const share = (hits: number, n: number): number => (n > 0 ? hits / n : Number.NaN);

/** Mean and sample standard deviation of the finite values. */
export function spread(xs: readonly number[]): { mean: number; sd: number; n: number } {
  const v = xs.filter((x) => Number.isFinite(x));
  if (v.length === 0) return { mean: Number.NaN, sd: Number.NaN, n: 0 };
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, sd, n: v.length };
}

/** "0.93 ± 0.02" (or "n/a"). */
export function fmt(xs: readonly number[], digits = 2): string {
  const s = spread(xs);
  if (s.n === 0) return 'n/a';
  return s.n > 1 ? `${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)}` : s.mean.toFixed(digits);
}
