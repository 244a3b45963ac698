/** Penalties per source address: free failures, doubling windows, cleared by a success, forgotten later; never per user name. */
import { describe, expect, it } from 'vitest';
import { FailurePenalties } from '../../../../src/hub/admission/failure-penalties.js';
import { sourceOf } from '../../../../src/hub/admission/source-address.js';

describe('FailurePenalties', () => {
  it('opens doubling windows after the free failures, up to the maximum; a success clears the source', () => {
    let now = 0;
    const p = new FailurePenalties({ freeFailures: 2, penaltyBase: 1000, penaltyMax: 4000, failureMemory: 60_000 }, () => now);
    expect([p.failed('a'), p.failed('a'), p.failed('a'), p.failed('a'), p.failed('a'), p.failed('a')]).toEqual([0, 0, 1000, 2000, 4000, 4000]);
    expect(p.retryAfterMs('a')).toBe(4000);
    expect(p.retryAfterMs('b')).toBe(0);
    expect(p.isSuspect('a')).toBe(true);
    now = 1000;
    expect(p.retryAfterMs('a')).toBe(3000);
    p.succeeded('a');
    expect(p.retryAfterMs('a')).toBe(0);
    expect(p.isSuspect('a')).toBe(false);
  });

  it('forgets a source after failureMemory without a new failure', () => {
    let now = 0;
    const p = new FailurePenalties({ freeFailures: 0, penaltyBase: 10, penaltyMax: 10, failureMemory: 1000 }, () => now);
    p.failed('a');
    now = 1000;
    expect(p.isSuspect('a')).toBe(false);
    expect(p.size()).toBe(0);
  });

  it('counts IPv6 by /64 and IPv4-mapped addresses as IPv4', () => {
    expect(sourceOf('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(sourceOf('10.1.2.3')).toBe('10.1.2.3');
    expect(sourceOf('2001:db8:0:1:aaaa::1')).toBe(sourceOf('2001:db8::1:bbbb:0:0:2'));
    expect(sourceOf('2001:db8:0:1::1')).toBe('2001:db8:0:1::/64');
    expect(sourceOf('2001:db8:0:2::1')).not.toBe(sourceOf('2001:db8:0:1::1'));
    expect(sourceOf(undefined)).toBe('?');
  });
});
