/** Human log lines (src/log/pretty-stream.ts) from the real logger's JSON, redaction included. */
import { describe, expect, it } from 'vitest';
import { prettyLine } from '../../../src/log/pretty-stream.js';
import { resolveLogFormat } from '../../../src/log/logger.js';
import { captureLogs } from '../../helpers/log-capture.js';

describe('pretty log lines', () => {
  it('time, level, [component], message, then the other fields; secrets stay redacted', () => {
    const { logger, lines } = captureLogs();
    logger.child({ component: 'agent' }).warn({ url: 'wss://hub.example/agent', code: 'CLOSED', attempt: 3, password: 'hunter2', detail: { a: 1 } }, 'hub connection lost');
    const line = prettyLine(lines[0]!)!;
    expect(line).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} WARN {2}\[agent\] hub connection lost /);
    expect(line).toContain(' url=wss://hub.example/agent code=CLOSED attempt=3 ');
    expect(line).toContain('password=[REDACTED]');
    expect(line).toContain('detail={"a":1}');
    expect(line).not.toMatch(/hunter2|"pid"|hostname=/);
  });

  it('an error: its type, code and message, and its stack indented on the lines below', () => {
    const { logger, lines } = captureLogs();
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    logger.error({ err }, 'cannot start');
    const [head, second, third] = prettyLine(lines[0]!)!.split('\n');
    expect(head).toMatch(/ERROR cannot start$/);
    expect(second).toBe('    Error ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1');
    expect(third).toMatch(/^ {4}at /);
  });

  it('quotes values a reader could misread, and passes other lines through', () => {
    const { logger, lines } = captureLogs();
    logger.info({ reason: 'two words', eq: 'a=b', empty: '' }, 'x');
    expect(prettyLine(lines[0]!)).toContain('reason="two words" eq="a=b" empty=""');
    expect(prettyLine('not json')).toBeUndefined();
    expect(prettyLine('[1,2]')).toBeUndefined();
  });

  it('auto: pretty on a terminal, JSON otherwise; explicit settings win', () => {
    expect([resolveLogFormat('auto', true), resolveLogFormat('auto', false), resolveLogFormat('json', true), resolveLogFormat('pretty', false)]).toEqual(['pretty', 'json', 'json', 'pretty']);
  });
});
