/** The one secret scrubber (src/adapter-kit/scrub.ts) and the three error tables that use it. */
import { InvalidCredentialsError } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { toProtocolError as ldapError } from '../../src/adapters/directory/errors.js';
import { toProtocolError as ldifError } from '../../src/adapters/ldif/errors.js';
import { ScimResponseError, toProtocolError as scimError } from '../../src/adapters/scim/errors.js';
import { REDACTED, scrub, scrubber, secretForms } from '../../src/adapter-kit/scrub.js';

describe('scrub', () => {
  it('redacts every non-empty secret, however short, everywhere it occurs', () => {
    expect(scrub('pw x1 and x1 again', ['x1'])).toBe(`pw ${REDACTED} and ${REDACTED} again`);
    expect(scrub('a-b-c', ['b'])).toBe(`a-${REDACTED}-c`);
    expect(scrub('nothing to hide', [''])).toBe('nothing to hide');
    expect(scrub('nothing to hide', [])).toBe('nothing to hide');
  });

  it('redacts the percent-encoded, form-encoded, JSON-escaped and base64 forms', () => {
    const secret = 'pä ss/wo"rd+=\\';
    const b64 = Buffer.from(secret, 'utf8').toString('base64');
    const b64url = Buffer.from(secret, 'utf8').toString('base64url');
    const text = [
      `raw ${secret}`,
      `query ?token=${encodeURIComponent(secret)}&x=1`,
      `form client_secret=${encodeURIComponent(secret).replace(/%20/g, '+')}`,
      `json {"password":${JSON.stringify(secret)}}`,
      `b64 ${b64}`,
      `b64url ${b64url}`,
    ].join('\n');
    const out = scrub(text, [secret]);
    for (const form of secretForms(secret)) expect(out).not.toContain(form);
    expect(out.match(/\[REDACTED\]/g)).toHaveLength(6);
    expect(out).toContain('query ?token=[REDACTED]&x=1');
    expect(out).toContain('json {"password":"[REDACTED]"}');
  });

  it('one pass, longest first: a secret containing another goes whole; nothing matches inside a placeholder', () => {
    expect(scrub('token abcdef here', ['abc', 'abcdef'])).toBe(`token ${REDACTED} here`);
    expect(scrub('X marks ACT', ['ACT', 'X'])).toBe(`${REDACTED} marks ${REDACTED}`);
    // Replaced one after the other, `D` would then match inside the first placeholder.
    expect(scrub('xyz D', ['xyz', 'D'])).toBe(`${REDACTED} ${REDACTED}`);
  });

  it('regular-expression characters in a secret are literal', () => {
    expect(scrub('a.b a*b (x|y)', ['a.b', '(x|y)'])).toBe(`${REDACTED} a*b ${REDACTED}`);
  });

  it('a scrubber made once serves many messages', () => {
    const s = scrubber(['s3cret']);
    expect([s('one s3cret'), s('two s3cret')]).toEqual([`one ${REDACTED}`, `two ${REDACTED}`]);
  });
});

describe('the error tables use it, with one threshold', () => {
  const short = 'pw1';

  it('ldap: a short bind password echoed by the server', () => {
    const e = ldapError(new InvalidCredentialsError(`bind with ${short} refused`), {}, { secrets: [short] });
    expect(e.message).not.toContain(short);
    expect(e.message).toContain(REDACTED);
  });

  it('scim: a short token echoed in an error body, also percent-encoded', () => {
    const secret = 'tk 1';
    const e = scimError(new ScimResponseError('GET', '/Users', 401, {}, { detail: `token ${secret} (sent as ?t=${encodeURIComponent(secret)})` }, ''), {}, { secrets: [secret] });
    expect(e.message).toBe(`SCIM HTTP 401: token ${REDACTED} (sent as ?t=${REDACTED})`);
  });

  it('ldif: messages go through the same scrubber', () => {
    const e = ldifError(Object.assign(new Error('x'), { code: 'ENOENT', path: `/data/${short}.ldif` }), {}, { secrets: [short] });
    expect(e.message).toBe(`/data/${REDACTED}.ldif: file not found (ENOENT)`);
  });
});
