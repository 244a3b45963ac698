/** The one SCIM → protocol error table (docs/architecture.md, "Errors"), every row, plus transport failures. */
import { describe, expect, it } from 'vitest';
import { mappingFor, ResponseTooLargeError, ScimResponseError, STATUS_CODES, toProtocolError } from '../../../src/adapters/scim/errors.js';
import { ERROR_CODES, ProtocolError, type ErrorCode } from '../../../src/protocol/index.js';

const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** A response as a provider sends it (RFC 7644 §3.12). */
function response(status: number, scimType?: string, detail = 'server detail', headers: Record<string, string> = {}): ScimResponseError {
  const body = { schemas: [ERROR_SCHEMA], status: String(status), ...(scimType === undefined ? {} : { scimType }), detail };
  return new ScimResponseError('GET', '/Users', status, headers, body, JSON.stringify(body));
}

const EXPECTED: Record<string, [ErrorCode, boolean]> = {
  '400': ['BAD_REQUEST', false],
  '400:invalidFilter': ['BAD_REQUEST', false],
  '400:tooMany': ['BAD_REQUEST', false],
  '400:invalidSyntax': ['BAD_REQUEST', false],
  '400:invalidPath': ['BAD_REQUEST', false],
  '400:noTarget': ['BAD_REQUEST', false],
  '400:invalidValue': ['BAD_REQUEST', false],
  '400:invalidVers': ['BAD_REQUEST', false],
  '400:invalidCursor': ['BAD_REQUEST', false],
  '400:invalidCount': ['BAD_REQUEST', false],
  '400:expiredCursor': ['UPSTREAM_ERROR', true],
  '400:mutability': ['CONSTRAINT_VIOLATION', false],
  '400:uniqueness': ['CONSTRAINT_VIOLATION', false],
  '401': ['UPSTREAM_AUTH_FAILED', false],
  '403': ['UPSTREAM_AUTH_FAILED', false],
  '403:sensitive': ['BAD_REQUEST', false],
  '404': ['NOT_FOUND', false],
  '409': ['CONSTRAINT_VIOLATION', false],
  '409:uniqueness': ['ALREADY_EXISTS', false],
  '412': ['CONSTRAINT_VIOLATION', false],
  '413': ['SIZE_LIMIT_EXCEEDED', false],
  '429': ['UPSTREAM_UNAVAILABLE', true],
  '500': ['UPSTREAM_UNAVAILABLE', true],
  '501': ['OPERATION_NOT_ALLOWED', false],
  '502': ['UPSTREAM_UNAVAILABLE', true],
  '503': ['UPSTREAM_UNAVAILABLE', true],
  '504': ['UPSTREAM_UNAVAILABLE', true],
};

describe('SCIM status table', () => {
  it('covers exactly the expected rows', () => {
    expect(Object.keys(STATUS_CODES).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [key, [code, retryable]] of Object.entries(EXPECTED)) {
    it(`${key} → ${code}${retryable ? ' (retryable)' : ''}`, () => {
      const [status, scimType] = key.split(':');
      const e = toProtocolError(response(Number(status), scimType, 'the detail'), { requestId: 'r1', dataSource: 'hr', url: 'https://hr/scim/v2' }, { operation: 'GET /Users' });
      expect(e).toBeInstanceOf(ProtocolError);
      expect(e.code).toBe(code);
      expect(e.retryable).toBe(retryable);
      expect(e.message).toContain('the detail');
      expect(e.message).toContain(`HTTP ${status}`);
      expect(e.message.startsWith('https://hr/scim/v2 GET /Users: ')).toBe(true);
      expect(e.context.details).toEqual({ httpStatus: Number(status), ...(scimType === undefined ? {} : { scimType }) });
      expect(e.context.requestId).toBe('r1');
      expect(e.cause).toBeInstanceOf(ScimResponseError);
    });
  }

  it('an unknown scimType falls back to the status row', () => {
    expect(mappingFor(409, 'somethingElse').code).toBe('CONSTRAINT_VIOLATION');
    expect(mappingFor(400, 'vendorSpecific').code).toBe('BAD_REQUEST');
    expect(mappingFor(404, 'uniqueness').code).toBe('NOT_FOUND');
  });

  it('unlisted statuses map by class: 4xx UPSTREAM_ERROR, 5xx UPSTREAM_UNAVAILABLE (retryable)', () => {
    expect(mappingFor(405)).toEqual({ code: 'UPSTREAM_ERROR' });
    expect(mappingFor(415)).toEqual({ code: 'UPSTREAM_ERROR' });
    expect(mappingFor(507)).toEqual({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
    const e = toProtocolError(response(418));
    expect([e.code, e.retryable]).toEqual(['UPSTREAM_ERROR', ERROR_CODES.UPSTREAM_ERROR.retryable]);
  });

  it('a non-SCIM error body (a proxy HTML page) is quoted, shortened, on one line', () => {
    const html = `<html>\n<body><h1>502 Bad Gateway</h1>${'x'.repeat(1000)}</body></html>`;
    const e = toProtocolError(new ScimResponseError('GET', '/Users', 502, {}, undefined, html));
    expect(e.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(e.message).toContain('<html> <body><h1>502 Bad Gateway</h1>');
    expect(e.message.length).toBeLessThan(400);
    expect(e.context.details).toEqual({ httpStatus: 502 });
  });

  it('an empty error body says only the status', () => {
    expect(toProtocolError(new ScimResponseError('DELETE', '/Users/1', 404, {}, undefined, '')).message).toBe('SCIM HTTP 404');
  });

  it('a numeric `status` member and a missing `schemas` are accepted (providers vary)', () => {
    const e = toProtocolError(new ScimResponseError('POST', '/Users', 409, {}, { status: 409, scimType: 'uniqueness', detail: 'userName taken' }, ''));
    expect(e.code).toBe('ALREADY_EXISTS');
    expect(e.message).toBe('SCIM HTTP 409 uniqueness: userName taken');
  });

  it('secrets are scrubbed from messages', () => {
    const e = toProtocolError(response(401, undefined, 'token s3cr3t-token is not valid'), {}, { secrets: ['s3cr3t-token'] });
    expect(e.message).toBe('SCIM HTTP 401: token [REDACTED] is not valid');
  });

  it('a ProtocolError passes through unchanged', () => {
    const original = new ProtocolError('BAD_REQUEST', 'x');
    expect(toProtocolError(original)).toBe(original);
  });
});

describe('transport failures', () => {
  const sys = (code: string, message = `${code} message`): Error => Object.assign(new Error(message), { code });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])('%s → UPSTREAM_UNAVAILABLE, retryable', (code) => {
    const e = toProtocolError(sys(code), { url: 'http://x/scim' }, { operation: 'GET /Users' });
    expect([e.code, e.retryable]).toEqual(['UPSTREAM_UNAVAILABLE', true]);
    expect(e.message).toBe(`http://x/scim GET /Users: SCIM server unreachable: ${code} message`);
  });

  it('an AggregateError (Happy Eyeballs: ::1 and 127.0.0.1 both refused) uses its inner code', () => {
    const e = toProtocolError(new AggregateError([sys('ECONNREFUSED'), sys('ECONNREFUSED')], ''));
    expect([e.code, e.retryable]).toEqual(['UPSTREAM_UNAVAILABLE', true]);
    expect(e.message).toContain('ECONNREFUSED');
  });

  it.each(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])('%s → UPSTREAM_UNAVAILABLE, retryable, with the timeout', (code) => {
    const e = toProtocolError(sys(code), {}, { timeoutMs: 1500 });
    expect([e.code, e.retryable]).toEqual(['UPSTREAM_UNAVAILABLE', true]);
    expect(e.message).toBe(`SCIM server timed out after 1500 ms (${code})`);
  });

  it.each(['DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED'])('TLS %s → UPSTREAM_UNAVAILABLE, not retryable', (code) => {
    const e = toProtocolError(sys(code));
    expect([e.code, e.retryable]).toEqual(['UPSTREAM_UNAVAILABLE', false]);
    expect(e.message).toContain('TLS connection refused');
  });

  it('a proxy refusing the tunnel: 407 → UPSTREAM_AUTH_FAILED, others UPSTREAM_UNAVAILABLE', () => {
    const e407 = toProtocolError(sys('UND_ERR_ABORTED', 'Proxy response (407) !== 200 when HTTP Tunneling'));
    expect(e407.code).toBe('UPSTREAM_AUTH_FAILED');
    const e502 = toProtocolError(sys('UND_ERR_ABORTED', 'Proxy response (502) !== 200 when HTTP Tunneling'));
    expect([e502.code, e502.retryable]).toEqual(['UPSTREAM_UNAVAILABLE', true]);
  });

  it('our own abort → CANCELLED', () => {
    expect(toProtocolError(sys('UND_ERR_ABORTED', 'Request aborted')).code).toBe('CANCELLED');
    expect(toProtocolError(sys('ABORT_ERR', 'This operation was aborted')).code).toBe('CANCELLED');
  });

  it('a body over the size cap → SIZE_LIMIT_EXCEEDED', () => {
    const e = toProtocolError(new ResponseTooLargeError(1024));
    expect(e.code).toBe('SIZE_LIMIT_EXCEEDED');
    expect(e.message).toContain('larger than 1024 bytes');
  });

  it('anything else → UPSTREAM_ERROR', () => {
    const e = toProtocolError(new Error('weird'));
    expect([e.code, e.message]).toEqual(['UPSTREAM_ERROR', 'SCIM error: weird']);
    expect(toProtocolError('a string').code).toBe('UPSTREAM_ERROR');
  });
});

describe('redirects', () => {
  it('a 3xx is not followed: UPSTREAM_ERROR naming the target', () => {
    const e = toProtocolError(new ScimResponseError('GET', '/Users', 302, { location: 'https://sso.example/login' }, undefined, ''));
    expect([e.code, e.message]).toEqual(['UPSTREAM_ERROR', 'SCIM HTTP 302 (redirect to https://sso.example/login not followed)']);
  });
});
