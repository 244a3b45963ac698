/**
 * `check`'s masking (src/cli/check-scrub.ts): URLs by structure, free text by secret value, with
 * the classic defaults (userName admin, password admin, a URL that contains "admin").
 */
import { describe, expect, it } from 'vitest';
import { freeTextScrubber, maskUrl, MIN_SCRUBBED_LENGTH } from '../../../src/cli/check-scrub.js';

describe('maskUrl', () => {
  it('keeps a URL without credentials byte for byte, even when a password is part of it', () => {
    expect(maskUrl('wss://localhost:18443/idm-admin')).toBe('wss://localhost:18443/idm-admin');
  });

  it('masks only the password of the userinfo, keeping the user', () => {
    expect(maskUrl('http://proxyuser:proxy-pass-789@127.0.0.1:3128')).toBe('http://proxyuser:***@127.0.0.1:3128');
    expect(maskUrl('https://admin:admin@hub.example/idm-admin')).toBe('https://admin:***@hub.example/idm-admin');
  });

  it('masks query values named like secrets, and nothing else of the query', () => {
    expect(maskUrl('https://scim.example/v2?access_token=abc123&filter=admin&password=admin')).toBe(
      'https://scim.example/v2?access_token=***&filter=admin&password=***',
    );
  });
});

describe('freeTextScrubber', () => {
  const scrub = freeTextScrubber(['admin', 'admin', 'bind-secret-1']);

  it('the classic defaults: the URL in a message stays whole, the password elsewhere is masked', () => {
    expect(scrub('HTTP 404 at wss://localhost:18443/idm-admin: no agent endpoint at /idm-admin; user admin refused')).toBe(
      'HTTP 404 at wss://localhost:18443/idm-admin: no agent endpoint at /idm-admin; user [REDACTED] refused',
    );
  });

  it('masks every form of a secret in free text (literal, percent-encoded, base64)', () => {
    const b64 = Buffer.from('bind-secret-1').toString('base64');
    expect(scrub(`bind failed for bind-secret-1 (${b64})`)).toBe('bind failed for [REDACTED] ([REDACTED])');
  });

  it(`does not search for values shorter than ${MIN_SCRUBBED_LENGTH} characters ("1" would break "HTTP 401")`, () => {
    expect(freeTextScrubber(['1', 'ab'])('HTTP 401 Unauthorized at ab.example')).toBe('HTTP 401 Unauthorized at ab.example');
  });

  it('a URL carrying credentials in the text is masked by its structure', () => {
    expect(freeTextScrubber([])('connect via http://u:s3cr3t-pw@proxy:3128 failed')).toBe('connect via http://u:***@proxy:3128 failed');
  });

  it('a secret with a space is masked even where a URL in the text would cut it', () => {
    expect(freeTextScrubber(['pa ss@word'])('refused http://u:pa ss@word@proxy:3128')).toBe('refused http://u:***@proxy:3128');
    expect(freeTextScrubber(['pa ss@word'])('password "pa ss@word" refused')).toBe('password "[REDACTED]" refused');
  });
});
