/** Log levels of request failures (src/pipeline/failures.ts): what an operator must act on is a warning. */
import { describe, expect, it } from 'vitest';
import { errorFrame } from '../../../src/pipeline/failures.js';
import { ProtocolError } from '../../../src/protocol/index.js';
import { captureLogs } from '../../helpers/log-capture.js';

const levelOf = (code: string): { level: unknown; msg: unknown; dataSource: unknown } => {
  const { logger, records } = captureLogs();
  const frame = errorFrame(new ProtocolError(code as never, `why ${code}`), 'r1', 'corp', logger);
  expect(frame).toMatchObject({ type: 'error', id: 'r1', code });
  const [rec] = records();
  return { level: rec?.['level'], msg: rec?.['msg'], dataSource: rec?.['dataSource'] };
};

describe('request failure log levels', () => {
  it('unreachable, refused credentials and upstream failures are warnings that name the data source', () => {
    for (const code of ['UPSTREAM_UNAVAILABLE', 'UPSTREAM_AUTH_FAILED', 'UPSTREAM_ERROR']) {
      expect(levelOf(code)).toEqual({ level: 40, msg: `data source corp failed: why ${code}`, dataSource: 'corp' });
    }
  });

  it("the caller's own mistakes stay at info; a bug is an error", () => {
    for (const code of ['BAD_REQUEST', 'NOT_FOUND', 'CANCELLED', 'TIMEOUT', 'CONSTRAINT_VIOLATION']) expect(levelOf(code).level).toBe(30);
    const { logger, records } = captureLogs();
    expect(errorFrame(new Error('oops'), 'r2', 'corp', logger)).toMatchObject({ code: 'INTERNAL' });
    expect(records()[0]).toMatchObject({ level: 50, msg: 'request failed unexpectedly' });
  });
});
