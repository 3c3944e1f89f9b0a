import { describe, expect, it } from 'vitest';
import { DEFAULT_SCRYPT_COST, hashPassword, verifyPassword } from '../../services/platform/auth/password.ts';

describe('password hashes', () => {
  it('verify the password and reject any other', async () => {
    const h = await hashPassword('correct horse battery', 2 ** 10);
    expect(h).toMatch(/^scrypt\$1024\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(await verifyPassword('correct horse battery', h)).toBe(true);
    expect(await verifyPassword('correct horse batterY', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
  });

  it('salt each hash', async () => {
    const [a, b] = await Promise.all([hashPassword('same password', 4), hashPassword('same password', 4)]);
    expect(a).not.toBe(b);
  });

  it('keep their parameters, so an older cost still verifies', async () => {
    const h = await hashPassword('old password here', 2 ** 4);
    expect(await verifyPassword('old password here', h)).toBe(true);
    expect(DEFAULT_SCRYPT_COST).toBeGreaterThanOrEqual(2 ** 15);
  });

  it('match the same password typed in another Unicode form', async () => {
    const h = await hashPassword('caf\u00e9 au lait 42', 4);
    expect(await verifyPassword('cafe\u0301 au lait 42', h)).toBe(true);
  });

  it('reject malformed or absurdly costly stored hashes without throwing', async () => {
    for (const stored of [
      '',
      'plain',
      'scrypt$3$8$1$aaaa$bbbb',
      `scrypt$${2 ** 30}$8$1$AAAAAAAAAAAAAAAAAAAAAA$${'A'.repeat(43)}`,
    ]) {
      expect(await verifyPassword('x', stored)).toBe(false);
    }
    await expect(hashPassword('x', 1000)).rejects.toThrow(/power of two/);
  });
});
