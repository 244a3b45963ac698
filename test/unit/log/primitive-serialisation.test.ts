/**
 * The logger serialises top-level values that are not objects without pino's path redactor
 * (logger.ts, `serialisePrimitivesDirectly`): the lines must be byte for byte what pino with the
 * same redaction writes, secrets in objects and under secret keys still redacted, in lines and
 * in child bindings alike.
 */
import { pino, type DestinationStream } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger, redactPaths } from '../../../src/log/logger.js';

function sink(): { stream: DestinationStream; lines: string[] } {
  const lines: string[] = [];
  return { stream: { write: (s: string) => void lines.push(s) }, lines };
}

/** The same line through our logger and through plain pino with the same redaction. */
function both(write: (logger: pino.Logger) => void): { ours: string[]; plain: string[] } {
  const a = sink();
  const b = sink();
  write(createLogger({ level: 'trace' }, a.stream));
  write(pino({ name: 'datasync', level: 'trace', redact: { paths: redactPaths(), censor: '[REDACTED]' }, serializers: { err: pino.stdSerializers.err } }, b.stream));
  const noTime = (l: string): string => l.replace(/"time":\d+,/, '');
  return { ours: a.lines.map(noTime), plain: b.lines.map(noTime) };
}

describe('logger: primitives serialised directly', () => {
  it('writes the lines plain pino writes, for primitives of every kind', () => {
    const { ours, plain } = both((log) => {
      log.info({ s: 'text with "quotes" and \u2028 and \u0000', n: 1.5, i: -3, b: false, nul: null, u: undefined, big: 12n, nan: NaN, inf: Infinity, sym: Symbol('x') }, 'primitives');
      log.warn({ fn: () => 1, arr: [1, 'two', { password: 'in-array' }], date: new Date(0) }, 'not primitives');
      log.child({ requestId: 'r-1', dataSource: 'corp', op: 'get', n: 7 }).info({ ms: 3 }, 'child');
    });
    expect(ours).toEqual(plain);
    expect(ours).toHaveLength(3);
  });

  it('still redacts secrets: top-level keys, nested keys, headers, child bindings', () => {
    const err = Object.assign(new Error('boom'), { bearerToken: 'err-secret' });
    const { ours, plain } = both((log) => {
      log.info({ password: 'top-secret', bindPassword: 7, token: null }, 'top level');
      log.info({ config: { dataSources: { x: { bindPassword: 'nested-secret' } } }, headers: { authorization: 'Bearer header-secret' } }, 'nested');
      log.child({ component: 'c', options: { clientSecret: 'binding-secret' }, password: 'binding-top-secret' }).info('child');
      log.error({ err }, 'error');
    });
    expect(ours).toEqual(plain);
    const text = ours.join('');
    for (const s of ['top-secret', 'nested-secret', 'header-secret', 'binding-secret', 'binding-top-secret', 'err-secret']) expect(text).not.toContain(s);
    expect(text.match(/\[REDACTED\]/g)?.length).toBeGreaterThanOrEqual(8);
  });
});
