import { describe, expect, it } from 'vitest';
import { hashPassword, hashToken, isPasswordHash, parsePasswordHash, verifyPassword } from '../../../src/config/index.js';

describe('password hashes', () => {
  it('round-trips: the right password verifies, a wrong one does not', async () => {
    const stored = await hashPassword('correct horse');
    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(await verifyPassword('correct horse', stored)).toBe(true);
    expect(await verifyPassword('correct horsf', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hashPassword('same'), hashPassword('same')]);
    expect(a).not.toBe(b);
    expect(isPasswordHash(a)).toBe(true);
    expect(parsePasswordHash(a)).toMatchObject({ N: 16384, r: 8, p: 1 });
  });

  it('hashes API tokens the same way', async () => {
    expect(await verifyPassword('tok-123', await hashToken('tok-123'))).toBe(true);
  });

  it.each([
    'hunter2',
    '',
    'scrypt$16384$8$1$c2FsdA==',
    'scrypt$16384$8$1$not base64!$AAAA',
    'bcrypt$16384$8$1$ZtgECqK5JUh0KjKkDkNkcg==$fpFEC3BT71Mez5khTGXBRcn2lJVrppa40ceII7Myv8w=',
    // N not a power of two; N far too large (memory exhaustion)
    'scrypt$1000$8$1$ZtgECqK5JUh0KjKkDkNkcg==$fpFEC3BT71Mez5khTGXBRcn2lJVrppa40ceII7Myv8w=',
    'scrypt$67108864$8$1$ZtgECqK5JUh0KjKkDkNkcg==$fpFEC3BT71Mez5khTGXBRcn2lJVrppa40ceII7Myv8w=',
  ])('rejects the malformed stored hash %j with false', async (stored) => {
    expect(isPasswordHash(stored)).toBe(false);
    expect(await verifyPassword('hunter2', stored)).toBe(false);
  });

  it('verifies a hash made elsewhere with the documented parameters', async () => {
    const stored = 'scrypt$16384$8$1$ZtgECqK5JUh0KjKkDkNkcg==$fpFEC3BT71Mez5khTGXBRcn2lJVrppa40ceII7Myv8w=';
    expect(await verifyPassword('agent-secret', stored)).toBe(true);
  });
});
