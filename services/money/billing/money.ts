/**
 * Exact money and quantities. Money is integer fen (0.01 CNY) in a JS number that is a safe
 * integer; intermediate products that could outgrow 2^53 are bigint. Nothing here ever holds a
 * fraction of a fen in a floating-point number.
 *
 * The one rounding rule of the project: compute exactly, then round half up (a half goes away
 * from zero) once, at the point the rule names (per tariff component per charge, see tariffs.ts).
 */

/** An amount of money in integer fen. */
export type Fen = number;

/** True when `n` is a whole number of fen that JS can hold exactly. */
export function isFen(n: unknown): n is Fen {
  return typeof n === 'number' && Number.isSafeInteger(n);
}

/** `n / d` rounded half up (halves away from zero); `d` must be positive. */
export function divRoundHalfUp(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError('divisor must be positive');
  const neg = n < 0n;
  const abs = neg ? -n : n;
  const q = (2n * abs + d) / (2n * d);
  return neg ? -q : q;
}

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i;

/**
 * The decimal `value` scaled by 10^scale and rounded half up to an integer, computed on the
 * decimal digits (of the string, or of the shortest decimal that prints as the number), so
 * `toScaled(1.0005, 3)` is 1001n although 1.0005 * 1000 is 1000.4999… in floating point.
 */
export function toScaled(value: number | string, scale: number): bigint {
  return parseScaled(value, scale).scaled;
}

/** True when the decimal has at most `scale` decimals, i.e. `toScaled` does not round it. */
export function isExactAtScale(value: number | string, scale: number): boolean {
  return parseScaled(value, scale).exact;
}

function parseScaled(value: number | string, scale: number): { scaled: bigint; exact: boolean } {
  const text = typeof value === 'number' ? String(value) : value.trim();
  if (typeof value === 'number' && !Number.isFinite(value))
    throw new RangeError(`not a finite number: ${text}`);
  const m = DECIMAL.exec(text);
  if (!m) throw new RangeError(`not a decimal number: ${text}`);
  const [, sign, int = '0', frac = '', exp = '0'] = m;
  const digits = BigInt(`${int}${frac}`);
  // value = digits × 10^(exp − frac.length); scaled = digits × 10^(exp − frac.length + scale).
  const shift = Number(exp) - frac.length + scale;
  let scaled: bigint;
  let exact = true;
  if (shift >= 0) scaled = digits * 10n ** BigInt(shift);
  else {
    const d = 10n ** BigInt(-shift);
    scaled = divRoundHalfUp(digits, d);
    exact = digits % d === 0n;
  }
  return { scaled: sign ? -scaled : scaled, exact };
}

/** Fen as yuan with two decimals, e.g. -1234 → "-12.34"; for reports and messages. */
export function formatFen(fen: Fen): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** A bigint that must fit a safe JS integer (amounts of fen, quantities in milli-units). */
export function toSafeNumber(n: bigint, what: string): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`${what} is too large to hold exactly: ${n}`);
  }
  return Number(n);
}
