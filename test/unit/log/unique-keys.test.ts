/** Each key once per log line (src/log/unique-keys.ts), checked on the text, not on JSON.parse. */
import { describe, expect, it } from 'vitest';
import { captureLogs } from '../../helpers/log-capture.js';
import { repeatedKeys } from '../../helpers/log-audit.js';

describe('log lines write each key once', () => {
  it('the detector reads the text: it finds a repeat JSON.parse would hide, at any depth, and nothing in strings or arrays', () => {
    expect(repeatedKeys('{"a":1,"a":2}')).toEqual(['a']);
    expect(repeatedKeys('{"x":{"b":[{"c":1,"c":2}],"b":1}}')).toEqual(['c', 'b']);
    expect(repeatedKeys('{"a":"{\\"a\\":1,\\"a\\":2}","b":["a","a"],"c":{"a":1},"d":{"a":1}}')).toEqual([]);
  });

  it('a child that binds a key its parent has: the child value, once', () => {
    const { logger, lines } = captureLogs();
    logger.child({ component: 'agent' }).child({ component: 'status', port: 1 }).info('x');
    logger.child({ component: 'agent', dataSource: 'a' }).child({ requestId: 'r1', dataSource: 'a' }).child({ requestId: 'r1' }).warn('y');
    expect(lines.map(repeatedKeys)).toEqual([[], []]);
    expect(JSON.parse(lines[0]!)).toMatchObject({ component: 'status', port: 1, msg: 'x' });
    expect(JSON.parse(lines[1]!)).toMatchObject({ component: 'agent', dataSource: 'a', requestId: 'r1', msg: 'y' });
  });

  it('a call whose fields repeat a bound key: the call value, once; other fields and the message kept', () => {
    const { logger, lines } = captureLogs();
    const log = logger.child({ component: 'agent', requestId: 'r1' });
    log.info({ component: 'status', requestId: 'r2', n: 3 }, 'moved %s', 'on');
    log.info({ n: 4 }, 'plain');
    log.error(new Error('boom'), 'failed');
    expect(lines.map(repeatedKeys)).toEqual([[], [], []]);
    expect(JSON.parse(lines[0]!)).toMatchObject({ component: 'status', requestId: 'r2', n: 3, msg: 'moved on' });
    expect(JSON.parse(lines[1]!)).toMatchObject({ component: 'agent', requestId: 'r1', n: 4 });
    expect(JSON.parse(lines[2]!)).toMatchObject({ component: 'agent', msg: 'failed', err: { message: 'boom' } });
  });

  it('redaction still applies to a repeated key', () => {
    const { logger, text } = captureLogs();
    logger.child({ password: 'first-secret' }).child({ password: 'second-secret' }).info({ password: 'third-secret' }, 'z');
    expect(text()).not.toMatch(/first-secret|second-secret|third-secret/);
    expect(repeatedKeys(text())).toEqual([]);
  });
});
