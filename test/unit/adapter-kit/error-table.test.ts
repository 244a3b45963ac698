/** errorTable: upstream failures → coded, scrubbed protocol errors. */
import { describe, expect, it } from 'vitest';
import { errorTable } from '../../../src/adapter-kit/error-table.js';
import { PROTOCOL_ERROR_BRAND, ProtocolError } from '../../../src/protocol/errors.js';

const pgError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

describe('errorTable', () => {
  const toError = errorTable(
    [
      { match: (e) => (e as { code?: string }).code === '28P01', code: 'UPSTREAM_AUTH_FAILED', details: (e) => ({ sqlState: (e as { code: string }).code }) },
      { match: (e) => (e as { code?: string }).code === '40001', code: 'UPSTREAM_ERROR', retryable: true },
    ],
    { secrets: ['s3cret!'] },
  );

  it('the first matching rule decides the code, with details, the secret scrubbed and the cause kept', () => {
    const cause = pgError('28P01', 'password authentication failed: s3cret! rejected');
    const e = toError(cause, { dataSource: 'hr' });
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e.code).toBe('UPSTREAM_AUTH_FAILED');
    expect(e.retryable).toBe(false);
    expect(e.message).toBe('password authentication failed: [REDACTED] rejected');
    expect(e.context).toEqual({ dataSource: 'hr', details: { sqlState: '28P01' } });
    expect(e.cause).toBe(cause);
  });

  it('socket errors are UPSTREAM_UNAVAILABLE and retryable; anything else the fallback', () => {
    expect(toError(pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5'))).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
    expect(toError(new Error('odd'))).toMatchObject({ code: 'UPSTREAM_ERROR', message: 'odd' });
    expect(errorTable([], { fallback: 'INTERNAL' })('x')).toMatchObject({ code: 'INTERNAL', message: 'x' });
  });

  it('a protocol error passes through; one of another copy of the package is adopted by its brand', () => {
    const own = new ProtocolError('NOT_FOUND', 'no such row');
    expect(toError(own)).toBe(own);
    const foreign = { [PROTOCOL_ERROR_BRAND]: true, name: 'ProtocolError', code: 'NOT_FOUND', message: 'row s3cret! missing', retryable: false };
    const adopted = toError(foreign);
    expect(adopted).toBeInstanceOf(ProtocolError);
    expect(adopted).toMatchObject({ code: 'NOT_FOUND', message: 'row [REDACTED] missing', retryable: false });
  });
});
