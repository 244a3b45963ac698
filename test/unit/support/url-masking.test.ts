/**
 * Property tests of every masking of URL userinfo: `redactUrl`, `redactUrlsIn` (check's
 * scrubber), `maskUrlPassword`/`showValue` (config problem messages) and the errors for proxy
 * URLs that cannot be used (config and environment). For random passwords — unencoded
 * `@ / : # ?`, spaces, `%`, or percent-encoded — the output never holds the password nor any
 * 4-character piece of it that the rest of the URL does not also hold, and the host and port
 * stay readable.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, decodeAgentConfig } from '../../../src/config/index.js';
import { maskUrlPassword, showValue } from '../../../src/support/show-value.js';
import { ProxyConfigError, redactUrl, redactUrlsIn, resolveProxy, urlPasswords } from '../../../src/support/proxy-url.js';

const RUNS = { numRuns: 400, seed: 15 };
const SPECIAL = ['@', '/', ':', '#', '?', ' ', '%', '&', '=', '+', '[', ']', '!', '$', "'", '"', '\\', ';', ','];
const passwordChar = fc.oneof(fc.constantFrom(...SPECIAL), fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzXYZ0123456789-_.~'));
/** At least one special character half of the time, so the hard cases are common. */
const password = fc.oneof(
  fc.string({ unit: passwordChar, minLength: 1, maxLength: 24 }),
  fc.tuple(fc.string({ unit: passwordChar, maxLength: 10 }), fc.constantFrom(...SPECIAL), fc.string({ unit: passwordChar, maxLength: 10 })).map(([a, b, c]) => a + b + c),
);
const host = fc.oneof(
  fc.domain(),
  fc.constantFrom('127.0.0.1', '10.20.30.40', '[::1]', '[fd00::2]', 'localhost'),
);
const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });
const path = fc.constantFrom('', '/', '/agent', '/agent?tenant=1', '/scim/v2#x');

/**
 * 4-character pieces of `secret` in `out` that `allowed` (the non-secret parts) does not
 * explain. Shorter passwords are covered by the exact-output properties.
 */
function leaked(out: string, secret: string, allowed: string): string[] {
  const pieces: string[] = [];
  for (let i = 0; i + 4 <= secret.length; i++) {
    const piece = secret.slice(i, i + 4);
    if (out.includes(piece) && !allowed.includes(piece)) pieces.push(piece);
  }
  return pieces;
}

describe('URL userinfo masking, for any password', () => {
  it('redactUrl: unencoded and percent-encoded passwords are hidden whole; scheme, host, port and path kept', () => {
    fc.assert(
      fc.property(password, host, port, path, fc.boolean(), (pw, h, p, tail, encode) => {
        const authority = p === undefined ? h : `${h}:${p}`;
        const secret = encode ? encodeURIComponent(pw) : pw;
        const url = `http://agent:${secret}@${authority}${tail}`;
        expect(redactUrl(url)).toBe(`http://***:***@${authority}${tail}`);
      }),
      RUNS,
    );
  });

  it('maskUrlPassword (config problem values): the user name stays, the password is hidden whole', () => {
    fc.assert(
      fc.property(password, host, port, fc.boolean(), (pw, h, p, encode) => {
        const authority = p === undefined ? h : `${h}:${p}`;
        const url = `http://agent:${encode ? encodeURIComponent(pw) : pw}@${authority}`;
        expect(maskUrlPassword(url)).toBe(`http://agent:***@${authority}`);
        const shown = showValue({ proxy: url });
        expect(leaked(shown, pw, `{"proxy":"http://agent:***@${authority}"}`)).toEqual([]);
      }),
      RUNS,
    );
  });

  it('redactUrlsIn (free text): every URL in a message is masked (passwords without white space or quotes)', () => {
    const inText = password.filter((pw) => !/[\s"'<>`]/.test(pw));
    fc.assert(
      fc.property(inText, host, port, (pw, h, p) => {
        const authority = p === undefined ? h : `${h}:${p}`;
        const text = `proxy http://u:${pw}@${authority} refused CONNECT hub.example:443 (hub wss://hub.example/agent)`;
        expect(redactUrlsIn(text)).toBe(`proxy http://***:***@${authority} refused CONNECT hub.example:443 (hub wss://hub.example/agent)`);
      }),
      RUNS,
    );
  });

  it('urlPasswords gives the raw and the decoded password, for scrubbers that mask by value', () => {
    fc.assert(
      fc.property(password, host, (pw, h) => {
        expect(urlPasswords(`http://u:${pw}@${h}`)).toContain(pw);
        expect(urlPasswords(`http://u:${encodeURIComponent(pw)}@${h}`)).toContain(pw);
      }),
      RUNS,
    );
  });

  it('HTTPS_PROXY with any password: used as is, or a ProxyConfigError naming HTTPS_PROXY without any piece of the password', () => {
    fc.assert(
      fc.property(password, host, port, (pw, h, p) => {
        const authority = p === undefined ? h : `${h}:${p}`;
        const url = `http://u:${pw}@${authority}`;
        try {
          expect(resolveProxy('wss://hub.example/agent', { env: { HTTPS_PROXY: url } })).toBe(url);
        } catch (err) {
          expect(err).toBeInstanceOf(ProxyConfigError);
          const e = err as ProxyConfigError;
          expect(e.message.startsWith('HTTPS_PROXY: ')).toBe(true);
          // The stack's first line (the message); its frames are file paths, which depend on where the repo is.
          const everything = JSON.stringify({ ...e, message: e.message, stack: e.stack?.split('\n')[0] });
          expect(leaked(everything, pw, `${e.message.replace(/got .*$/, '')} http://***:***@${authority} ProxyConfigError CONFIG_INVALID at file:///`)).toEqual([]);
          expect(everything).toContain(authority.replace(/^\[|\]$/g, '').split(':')[0]);
        }
      }),
      RUNS,
    );
  });

  it('agent.proxy in the file with any unencoded password: loads, or a FILE:LINE:COL problem that does not show it', () => {
    fc.assert(
      fc.property(password, host, port, (pw, h, p) => {
        const authority = p === undefined ? h : `${h}:${p}`;
        const url = `http://proxyuser:${pw}@${authority}`;
        const yaml = `agent:\n  urls: [wss://hub.example/agent]\n  tenantId: 1\n  proxy: ${JSON.stringify(url)}\n`;
        try {
          decodeAgentConfig(yaml, 'agent.yaml', {});
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          const message = (err as ConfigError).message;
          expect(message).toMatch(/^agent\.yaml:4:\d+: agent\.proxy: expected http:\/\/ or https:\/\/ proxy URL/m);
          expect(leaked(message, pw, `${message.split(', got ')[0]!}"http://proxyuser:***@${authority}"`)).toEqual([]);
        }
      }),
      RUNS,
    );
  });

  it('the cases of the issue', () => {
    expect(maskUrlPassword('http://user:p@ss:w/rd@host')).toBe('http://user:***@host');
    expect(showValue('http://user:p@ss:w/rd@host')).toBe('"http://user:***@host"');
    expect(redactUrl('http://u:se/cret@127.0.0.1:18888')).toBe('http://***:***@127.0.0.1:18888');
    expect(maskUrlPassword('http://token@host:1')).toBe('http://***@host:1');
    expect(maskUrlPassword('no url here, just a@b')).toBe('no url here, just a@b');
  });
});
