import { divRoundHalfUp, toSafeNumber, type Fen } from '../billing/money.ts';
import type { ChargeResult } from '../billing/tariffs.ts';

/**
 * A charge's amount spread over a report's rows, to the fen, so that the rows add up exactly to
 * what the charge bills. Each component is rounded half up once over the whole charge (the
 * tariff's rule); its exact micro-fen are summed per row in time order and each row gets the
 * difference of the rounded running sums, so the rows of a component add up to its rounded amount
 * and a row is never off by more than one fen from its own exact share.
 */

/** Index of the last row start at or before `t`; -1 before the first row. */
export function rowOf(rowStarts: readonly number[], t: number): number {
  let lo = 0;
  let hi = rowStarts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rowStarts[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Per row, the fen of `result` that fall in it (rows given by their starts, in order). */
export function spreadOverRows(result: ChargeResult, rowStarts: readonly number[]): Fen[] {
  const perComponent = new Map<string, bigint[]>();
  for (const line of result.lines) {
    const row = rowOf(rowStarts, line.start);
    if (row < 0)
      throw new RangeError(`a charged interval starts at ${line.start}, before the report's first row`);
    let micro = perComponent.get(line.component);
    if (!micro) perComponent.set(line.component, (micro = rowStarts.map(() => 0n)));
    micro[row]! += BigInt(line.microFen);
  }
  const out = rowStarts.map(() => 0);
  for (const micro of perComponent.values()) {
    let running = 0n;
    let roundedBefore = 0n;
    micro.forEach((m, i) => {
      running += m;
      const rounded = divRoundHalfUp(running, 1_000_000n);
      out[i]! += toSafeNumber(rounded - roundedBefore, 'amount');
      roundedBefore = rounded;
    });
  }
  return out;
}
