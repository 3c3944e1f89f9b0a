/**
 * BCD values as DL/T 645 and CJ/T 188 carry them: `bytes` bytes, lowest first, two digits each.
 * In DL/T 645 a signed value (currents, powers) keeps its sign in the top bit of the most
 * significant byte, sign and magnitude (not two's complement).
 */
export interface BcdFormat {
  bytes: number;
  decimals: number;
  signed?: boolean;
}

/** The integer the digits spell (sign applied), or undefined if a nibble is not a decimal digit. */
export function bcdToInt(bytes: Uint8Array, signed = false): number | undefined {
  let n = 0;
  for (let i = bytes.length - 1; i >= 0; i--) {
    let b = bytes[i]!;
    if (signed && i === bytes.length - 1) b &= 0x7f;
    const hi = b >> 4;
    const lo = b & 0x0f;
    if (hi > 9 || lo > 9) return undefined;
    n = n * 100 + hi * 10 + lo;
  }
  const negative = signed && (bytes[bytes.length - 1]! & 0x80) !== 0;
  return negative ? -n : n;
}

/** Value = integer ÷ 10^decimals, divided rather than multiplied so 0.01 steps stay exact in print. */
export function bcdValue(bytes: Uint8Array, f: BcdFormat): number | undefined {
  const n = bcdToInt(bytes.subarray(0, f.bytes), f.signed);
  return n === undefined ? undefined : n / 10 ** f.decimals;
}

/** Encodes a value; the simulators and the time-set command use it (never the golden cases). */
export function intToBcd(n: number, bytes: number, signed = false): Buffer {
  const out = Buffer.alloc(bytes);
  let v = Math.abs(Math.round(n));
  // Signed values keep the top bit for the sign, so the top digit stops at 7.
  const max = signed ? 8 * 10 ** (2 * bytes - 1) : 10 ** (2 * bytes);
  if (v >= max) v = max - 1; // a register that overflows shows its top value, like the meter's display
  for (let i = 0; i < bytes; i++) {
    const two = v % 100;
    out[i] = ((Math.floor(two / 10) << 4) | (two % 10)) & 0xff;
    v = Math.floor(v / 100);
  }
  if (signed && n < 0) out[bytes - 1] = out[bytes - 1]! | 0x80;
  return out;
}

export function valueToBcd(value: number, f: BcdFormat): Buffer {
  return intToBcd(Math.round(value * 10 ** f.decimals), f.bytes, f.signed);
}
