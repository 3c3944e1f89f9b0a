import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashes: scrypt with a random salt per password, stored with its parameters as
 * `scrypt$<N>$<r>$<p>$<salt>$<hash>` (base64url), so that a hash made with an older cost still
 * verifies after the default changes.
 */

/** The default cost N: 2^15 takes some 50–100 ms and 32 MiB per hash, on purpose. */
export const DEFAULT_SCRYPT_COST = 2 ** 15;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
/** A stored hash asking for more than this is refused rather than run (a planted, costly hash). */
const MAX_COST = 2 ** 20;

function scryptAsync(
  password: string,
  salt: Buffer,
  keylen: number,
  options: ScryptOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

function options(cost: number, r: number, p: number): ScryptOptions {
  // scrypt needs 128·N·r bytes; Node's default limit (32 MiB) is exactly 2^15·8·128, too tight.
  return { N: cost, r, p, maxmem: 256 * cost * r + 1024 * 1024 };
}

/** The same password typed on different keyboards or input methods hashes the same. */
function normalized(password: string): string {
  return password.normalize('NFKC');
}

export function isValidCost(cost: number): boolean {
  return Number.isInteger(cost) && cost >= 2 && cost <= MAX_COST && (cost & (cost - 1)) === 0;
}

export async function hashPassword(password: string, cost: number = DEFAULT_SCRYPT_COST): Promise<string> {
  if (!isValidCost(cost))
    throw new Error(`scrypt cost must be a power of two from 2 to ${MAX_COST}, not ${cost}`);
  const salt = randomBytes(SALT_LENGTH);
  const key = await scryptAsync(
    normalized(password),
    salt,
    KEY_LENGTH,
    options(cost, BLOCK_SIZE, PARALLELISM),
  );
  return [
    'scrypt',
    cost,
    BLOCK_SIZE,
    PARALLELISM,
    salt.toString('base64url'),
    key.toString('base64url'),
  ].join('$');
}

/** Whether `password` matches `stored`; false (never an exception) for a malformed stored hash. */
const inRange = (n: number, lo: number, hi: number) => Number.isInteger(n) && n >= lo && n <= hi;

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [cost, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  if (!isValidCost(cost) || !inRange(r, 1, 32) || !inRange(p, 1, 16) || expected.length < 16) return false;
  const key = await scryptAsync(normalized(password), salt, expected.length, options(cost, r, p));
  return timingSafeEqual(key, expected);
}
