import { describe, expect, it } from 'vitest';
import {
  ERROR_CODE_LIST,
  FrameTooLargeError,
  ProtocolError,
  decodeFrame,
  encodeFrame,
  type Frame,
} from '../../../src/protocol/index.js';

const valid: Frame[] = [
  {
    type: 'hello',
    protocol: 1,
    agent: { id: 'a', version: '0.1.0', hostname: 'h' },
    tenantId: '1',
    dataSources: [{ name: 'corp', type: 'ldap', operations: ['test', 'search'] }],
  },
  { type: 'welcome', sessionId: 's', limits: { maxFrameBytes: 1024 } } as unknown as Frame,
  { type: 'reject', code: 'AUTH_FAILED', message: 'no' },
  { type: 'request', id: 'r1', op: 'search', dataSource: 'corp', params: { filter: '(uid=*)' }, timeoutMs: 1000, credit: 4 } as unknown as Frame,
  { type: 'result', id: 'r1', data: { ok: true } } as unknown as Frame,
  { type: 'chunk', id: 'r1', seq: 0, items: [{ dn: 'x' }] } as unknown as Frame,
  { type: 'credit', id: 'r1', n: 8 } as unknown as Frame,
  { type: 'end', id: 'r1', count: 1 } as unknown as Frame,
  { type: 'error', id: 'r1', code: 'TIMEOUT', message: 'late', retryable: true } as unknown as Frame,
  { type: 'cancel', id: 'r1' } as unknown as Frame,
];

describe('protocol v1 codec', () => {
  it.each(valid.map((f) => [f.type, f] as const))('round-trips a %s frame', (_type, frame) => {
    const decoded = decodeFrame(encodeFrame(frame));
    expect(decoded).toEqual({ ok: true, frame });
  });

  it.each([
    ['not JSON', '{"type":', /not JSON/],
    ['an array', '[1,2]', /not a JSON object/],
    ['an unknown type', '{"type":"hack","id":"r9"}', /unknown frame type "hack"/],
    ['a missing field', '{"type":"request","id":"r2","op":"search","dataSource":"x","timeoutMs":5}', /params: expected/],
    ['an unknown op', '{"type":"request","id":"r3","op":"drop","dataSource":"x","params":{},"timeoutMs":5}', /op: expected Operation/],
    ['negative credit', '{"type":"credit","id":"r4","n":-1}', /n: expected CreditCount/],
    ['fractional seq', '{"type":"chunk","id":"r5","seq":1.5,"items":[]}', /seq: expected/],
    ['an unknown error code', '{"type":"error","code":"NOPE","message":"m","retryable":false}', /code: expected ErrorCode/],
    ['an empty id', '{"type":"cancel","id":""}', /id: expected RequestId/],
  ])('refuses %s with BAD_FRAME', (_what, text, message) => {
    const decoded = decodeFrame(text);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) {
      expect(decoded.code).toBe('BAD_FRAME');
      expect(decoded.message).toMatch(message);
    }
  });

  it('salvages the id of an undecodable frame so the error can be correlated', () => {
    const decoded = decodeFrame('{"type":"request","id":"r7","op":"nope"}');
    expect(decoded).toMatchObject({ ok: false, id: 'r7' });
  });

  it('refuses invalid UTF-8', () => {
    const decoded = decodeFrame(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect(decoded).toMatchObject({ ok: false, message: 'frame is not valid UTF-8' });
  });

  it('refuses a frame over maxFrameBytes on decode and on encode', () => {
    const big: Frame = { type: 'result', id: 'r1', data: 'x'.repeat(2000) } as Frame;
    const text = JSON.stringify(big);
    expect(decodeFrame(text, 1000)).toMatchObject({ ok: false, message: expect.stringMatching(/exceeds maxFrameBytes 1000/) as string });
    expect(() => encodeFrame(big, 1000)).toThrow(FrameTooLargeError);
    expect(decodeFrame(text, 4000).ok).toBe(true);
  });

  it('survives very deep JSON without throwing', () => {
    const deep = '{"type":"result","id":"r1","data":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}';
    expect(() => decodeFrame(deep, 10_000_000)).not.toThrow();
  });

  it('maps ProtocolError to an error frame and back, keeping the retryable default', () => {
    for (const code of ERROR_CODE_LIST) {
      const err = new ProtocolError(code, 'm', { requestId: 'r1' });
      const back = ProtocolError.fromFrame(err.toFrame());
      expect(back.code).toBe(code);
      expect(back.retryable).toBe(err.retryable);
      expect(back.context.requestId).toBe('r1');
    }
    expect(new ProtocolError('TIMEOUT', 'x').retryable).toBe(true);
    expect(new ProtocolError('UPSTREAM_AUTH_FAILED', 'x').retryable).toBe(false);
  });
});

describe('pre-encoded chunks', () => {
  it('encodeChunk produces exactly what encodeFrame would for the same chunk', async () => {
    const { encodeChunk } = await import('../../../src/protocol/index.js');
    const items = [{ dn: 'uid=zoë,ou=people', attributes: { cn: ['Zoë "Z" Ågren'], 'jpegPhoto;binary': ['/9j/4AAQ'] } }, null, 'x\n'];
    const pre = encodeChunk('r-1', 7, items.map((i) => JSON.stringify(i)));
    expect(pre.encoded).toBe(encodeFrame({ type: 'chunk', id: 'r-1', seq: 7, items } as unknown as Frame));
    expect(encodeFrame(pre, 10_000)).toBe(pre.encoded);
    expect(() => encodeFrame(pre, 20)).toThrow(FrameTooLargeError);
    expect(decodeFrame(pre.encoded)).toMatchObject({ ok: true, frame: { type: 'chunk', seq: 7, items } });
  });
});
