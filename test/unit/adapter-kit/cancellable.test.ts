/** fromCancellable: a Promise-returning call as an Observable that aborts on unsubscribe. */
import { firstValueFrom, Subscription } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { fromCancellable } from '../../../src/adapter-kit/cancellable.js';

describe('fromCancellable', () => {
  it('emits the resolved value and completes; nothing runs before subscription', async () => {
    let calls = 0;
    const o = fromCancellable(() => {
      calls += 1;
      return Promise.resolve(42);
    });
    expect(calls).toBe(0);
    await expect(firstValueFrom(o)).resolves.toBe(42);
    expect(calls).toBe(1);
  });

  it('aborts the signal on unsubscribe, and a rejection after that is swallowed (no unhandled rejection)', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      let signal: AbortSignal | undefined;
      let rejectCall: ((err: Error) => void) | undefined;
      const sub: Subscription = fromCancellable(
        (s) =>
          new Promise<number>((_resolve, reject) => {
            signal = s;
            rejectCall = reject;
          }),
      ).subscribe({ error: () => expect.unreachable('no error after unsubscribe') });
      expect(signal?.aborted).toBe(false);
      const aborted = new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve()));
      sub.unsubscribe();
      await aborted;
      rejectCall?.(new Error('aborted by the caller'));
      // Two macrotask turns: Node reports unhandled rejections after the microtask queue drains.
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a synchronous throw and a rejection are errors of the Observable', async () => {
    await expect(
      firstValueFrom(
        fromCancellable(() => {
          throw new Error('sync');
        }),
      ),
    ).rejects.toThrow('sync');
    await expect(firstValueFrom(fromCancellable(() => Promise.reject(new Error('async'))))).rejects.toThrow('async');
  });

  it('accepts a plain value', async () => {
    await expect(firstValueFrom(fromCancellable(() => 'x'))).resolves.toBe('x');
  });
});
