/** The one LDAP → protocol error table (docs/architecture.md, "Errors"), every row, plus transport failures. */
import { AddResponse, InvalidCredentialsError, StatusCodeParser } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { RESULT_CODES, toProtocolError } from '../../../src/adapters/directory/errors.js';
import { ERROR_CODES, ProtocolError, type ErrorCode } from '../../../src/protocol/index.js';

/** What ldapts throws for an LDAPResult with `status` (its own parser, so the shapes are real). */
const ldapError = (status: number, diagnostic = 'server diagnostic'): Error => StatusCodeParser.parse(new AddResponse({ messageId: 1, status, errorMessage: diagnostic }));

const EXPECTED: Record<number, [ErrorCode, boolean]> = {
  1: ['UPSTREAM_ERROR', false],
  2: ['UPSTREAM_ERROR', false],
  3: ['TIMEOUT', true],
  4: ['SIZE_LIMIT_EXCEEDED', false],
  7: ['UPSTREAM_AUTH_FAILED', false],
  8: ['UPSTREAM_AUTH_FAILED', false],
  10: ['UPSTREAM_ERROR', false],
  11: ['SIZE_LIMIT_EXCEEDED', false],
  12: ['UPSTREAM_ERROR', false],
  13: ['UPSTREAM_AUTH_FAILED', false],
  16: ['CONSTRAINT_VIOLATION', false],
  17: ['BAD_REQUEST', false],
  18: ['BAD_REQUEST', false],
  19: ['CONSTRAINT_VIOLATION', false],
  20: ['CONSTRAINT_VIOLATION', false],
  21: ['BAD_REQUEST', false],
  32: ['NOT_FOUND', false],
  33: ['UPSTREAM_ERROR', false],
  34: ['BAD_REQUEST', false],
  36: ['UPSTREAM_ERROR', false],
  48: ['UPSTREAM_AUTH_FAILED', false],
  49: ['UPSTREAM_AUTH_FAILED', false],
  50: ['OPERATION_NOT_ALLOWED', false],
  51: ['UPSTREAM_UNAVAILABLE', true],
  52: ['UPSTREAM_UNAVAILABLE', true],
  53: ['UPSTREAM_UNAVAILABLE', true],
  54: ['UPSTREAM_ERROR', false],
  64: ['CONSTRAINT_VIOLATION', false],
  65: ['CONSTRAINT_VIOLATION', false],
  66: ['CONSTRAINT_VIOLATION', false],
  67: ['CONSTRAINT_VIOLATION', false],
  68: ['ALREADY_EXISTS', false],
  69: ['CONSTRAINT_VIOLATION', false],
  71: ['UPSTREAM_ERROR', false],
  80: ['UPSTREAM_ERROR', false],
  87: ['BAD_REQUEST', false],
};

describe('LDAP result codes', () => {
  it('the table covers exactly the expected codes', () => {
    expect(Object.keys(RESULT_CODES).map(Number).sort((a, b) => a - b)).toEqual(Object.keys(EXPECTED).map(Number).sort((a, b) => a - b));
  });

  for (const [status, [code, retryable]] of Object.entries(EXPECTED)) {
    it(`${status} ${RESULT_CODES[Number(status)]?.name} → ${code}${retryable ? ' (retryable)' : ''}`, () => {
      const e = toProtocolError(ldapError(Number(status)), { url: 'ldap://dc1:389', requestId: 'r1' }, { operation: 'search ou=x' });
      expect(e).toBeInstanceOf(ProtocolError);
      expect(e.code).toBe(code);
      expect(e.retryable).toBe(retryable);
      expect(e.message).toBe(`ldap://dc1:389 search ou=x: LDAP ${RESULT_CODES[Number(status)]?.name} (${status}): server diagnostic`);
      expect(e.context).toMatchObject({ url: 'ldap://dc1:389', requestId: 'r1', details: { ldapResultCode: Number(status) } });
      expect(e.cause).toBeInstanceOf(Error);
    });
  }

  it('an unlisted code is UPSTREAM_ERROR with a generic name; an empty diagnostic adds nothing', () => {
    const e = toProtocolError(ldapError(118, ''));
    expect(e.code).toBe('UPSTREAM_ERROR');
    expect(e.message).toBe('LDAP resultCode118 (118)');
    expect(e.retryable).toBe(ERROR_CODES.UPSTREAM_ERROR.retryable);
  });

  it("keeps ldapts' default message when the server sends none", () => {
    expect(toProtocolError(new InvalidCredentialsError()).message).toBe('LDAP invalidCredentials (49): Invalid credentials during a bind operation.');
  });

  it('never shows a secret, even if the server echoes it', () => {
    const e = toProtocolError(ldapError(49, 'bad password s3cret-Pa55 for cn=x'), {}, { secrets: ['s3cret-Pa55'] });
    expect(e.message).not.toContain('s3cret-Pa55');
    expect(e.message).toContain('[REDACTED]');
  });
});

describe('transport failures', () => {
  const withCode = (message: string, code: string): Error => Object.assign(new Error(message), { code });

  it.each([
    ['connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'],
    ['read ECONNRESET', 'ECONNRESET'],
    ['getaddrinfo ENOTFOUND dc9.corp', 'ENOTFOUND'],
    ['connect ETIMEDOUT', 'ETIMEDOUT'],
    ['connect EHOSTUNREACH', 'EHOSTUNREACH'],
  ])('%s → UPSTREAM_UNAVAILABLE (retryable)', (message, code) => {
    expect(toProtocolError(withCode(message, code))).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
  });

  it.each([
    'Connection timeout',
    'Connection closed before message response was received. Message type: SearchRequest (0x63)',
    'Socket error. Message type: SearchRequest (0x63)\nread ECONNRESET',
    'Socket connection not established',
    'SearchRequest: Operation timed out',
    'connection lost (not reconnecting)',
  ])("ldapts' %j → UPSTREAM_UNAVAILABLE (retryable)", (message) => {
    expect(toProtocolError(new Error(message))).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
  });

  it.each(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'SELF_SIGNED_CERT_IN_CHAIN'])(
    'TLS %s → UPSTREAM_UNAVAILABLE, not retryable',
    (code) => {
      const e = toProtocolError(withCode('certificate problem', code), { url: 'ldaps://dc1' });
      expect(e).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: false });
      expect(e.message).toBe(`ldaps://dc1: TLS connection refused (${code}): certificate problem`);
    },
  );

  it('anything else → UPSTREAM_ERROR; a ProtocolError passes through', () => {
    expect(toProtocolError(new TypeError('boom')).code).toBe('UPSTREAM_ERROR');
    expect(toProtocolError('a string').message).toBe('LDAP error: a string');
    const pe = new ProtocolError('BUSY', 'full');
    expect(toProtocolError(pe)).toBe(pe);
  });
});
