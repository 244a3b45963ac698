/** The hash semaphore: bounded running and waiting, clean sources first, refusals instead of an unbounded queue. */
import { describe, expect, it } from 'vitest';
import { HashBusyError, HashGate, type HashEvent } from '../../../../src/hub/admission/hash-gate.js';

function deferred(): { promise: Promise<string>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<string>((r) => (resolve = () => r('done')));
  return { promise, resolve };
}

describe('HashGate', () => {
  it('runs at most maxConcurrent, queues up to maxQueued, refuses beyond with HashBusyError', async () => {
    const gate = new HashGate({ maxConcurrent: 1, maxQueued: 1 });
    const first = deferred();
    const a = gate.run('s1', false, () => first.promise);
    const b = gate.run('s2', true, () => Promise.resolve('b'));
    await expect(gate.run('s3', true, () => Promise.resolve('c'))).rejects.toBeInstanceOf(HashBusyError);
    expect(gate.load()).toEqual({ running: 1, queued: 1 });
    first.resolve();
    expect(await a).toBe('done');
    expect(await b).toBe('b');
    expect(gate.load()).toEqual({ running: 0, queued: 0 });
  });

  it('serves clean sources before suspect ones; a clean check pushes out the newest suspect one from a full queue', async () => {
    const gate = new HashGate({ maxConcurrent: 1, maxQueued: 2 });
    const events: HashEvent[] = [];
    gate.events$.subscribe((e) => events.push(e));
    const first = deferred();
    const running = gate.run('x', true, () => first.promise);
    const s1 = gate.run('s1', true, () => Promise.resolve('s1'));
    const s2 = gate.run('s2', true, () => Promise.resolve('s2'));
    const clean = gate.run('legit', false, () => Promise.resolve('legit'));
    await expect(s2).rejects.toBeInstanceOf(HashBusyError);
    first.resolve();
    await Promise.all([running, s1, clean]);
    const started = events.filter((e) => e.type === 'started').map((e) => e.source);
    expect(started).toEqual(['x', 'legit', 's1']);
    expect(events.find((e) => e.type === 'started' && e.source === 'legit')).toMatchObject({ waitedBehind: 1 });
  });

  it('a second check from a source while its first is waiting or running queues as suspect; beyond maxPerSource it is refused', async () => {
    const gate = new HashGate({ maxConcurrent: 1, maxQueued: 8, maxPerSource: 2 });
    const events: HashEvent[] = [];
    gate.events$.subscribe((e) => events.push(e));
    const first = deferred();
    const a1 = gate.run('a', false, () => first.promise);
    const a2 = gate.run('a', false, () => Promise.resolve('a2'));
    await expect(gate.run('a', false, () => Promise.resolve('a3'))).rejects.toBeInstanceOf(HashBusyError);
    const b = gate.run('b', false, () => Promise.resolve('b'));
    first.resolve();
    await Promise.all([a1, a2, b]);
    expect(events.filter((e) => e.type === 'started').map((e) => e.source)).toEqual(['a', 'b', 'a']);
  });
});
