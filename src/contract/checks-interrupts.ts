/**
 * A search interrupted mid-page must release the upstream: after a cancel from the caller, and
 * after the hub↔agent connection drops, the adapter's `PageSource.close()` runs, no pull is
 * subscribed after it, and the upstream's request count stops (at most the one page that was
 * in flight follows the close). After a drop the agent reconnects and serves the next request.
 *
 * Both checks can fail: the hub grants credit for every chunk up front (a large window), so an
 * agent that ignored the cancel would not stall for lack of credit; the second and later pages
 * are held back by the observer (`holdPages`), so the stream is mid-page when the interruption
 * arrives, however fast the upstream; and the checks await the close itself (an event), then
 * give the agent round trips of its event loop before reading the upstream's count.
 */
import assert from 'node:assert/strict';
import { NEVER, type Subscription } from 'rxjs';
import { isProtocolError } from '../protocol/errors.js';
import { at, type CheckContext } from './check-context.js';
import { SOURCE_NAMES, type ContractEnvironment } from './environment.js';
import type { ContractCheck } from './fixture.js';
import type { ObservedSearch } from './observed-adapter.js';
import { guard, until } from './wait.js';

/** Chunks granted up front: far more than any fixture's search has. */
const LARGE_WINDOW = 100_000;
/** Round trips to the agent after the close, before the upstream's count is read. */
const SETTLE_ROUND_TRIPS = 5;

interface HeldSearch {
  readonly search: ObservedSearch;
  readonly subscription: Subscription;
  /** Settles when the hub's side of the search fails or ends (after an interruption: how). */
  readonly ended: Promise<unknown>;
}

const describe = (s: ObservedSearch): string =>
  `${s.pulls} pulls (${s.pullsOpen} open, ${s.pullsAfterClose} after close), ${s.pages} pages, ${s.closes} closes`;

/** Starts a search of `ok` with pages 2+ held and a large credit window; resolves after its first chunk arrived at the hub. */
async function searchUntilFirstChunk(ctx: CheckContext, env: ContractEnvironment): Promise<HeldSearch> {
  const before = env.observer.searches.length;
  env.observer.holdPages();
  let subscription: Subscription | undefined;
  let settle: (outcome: unknown) => void = () => undefined;
  const ended = new Promise<unknown>((resolve) => (settle = resolve));
  const firstChunk = new Promise<void>((resolve, reject) => {
    subscription = env.hub.searchEvents$({ ...at(env, SOURCE_NAMES.ok), params: ctx.fixture.search.params }, { window: LARGE_WINDOW, demand$: NEVER }).subscribe({
      next: (e) => {
        if (e.type === 'items') resolve();
        else reject(new Error(`the search ended (${e.count} entries) before its first chunk was taken: the fixture's search must span at least 3 pages`));
      },
      error: (err: unknown) => {
        settle(err);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
      complete: () => settle('complete'),
    });
  });
  try {
    await guard(firstChunk, 'the first chunk of the search');
    const search = await until(env.observer.changed$, () => env.observer.searches.slice(before).find((s) => s.dataSource === SOURCE_NAMES.ok), 'the adapter creating the page source');
    assert.equal(search.lastPages, 0, "the first page was the last: the fixture's search must span at least 3 pages");
    return { search, subscription: subscription as Subscription, ended };
  } catch (err) {
    subscription?.unsubscribe();
    env.observer.release();
    throw err;
  }
}

/** Awaits the close and the end of the pull in flight, releases the held pages, and settles the agent. */
async function closedAndSettled(env: ContractEnvironment, search: ObservedSearch, after: string): Promise<void> {
  try {
    await until(env.observer.changed$, () => (search.closes > 0 ? true : undefined), `the adapter's PageSource close() ${after}`, () => describe(search));
    await until(env.observer.changed$, () => (search.pullsOpen === 0 ? true : undefined), `the pull in flight to end ${after}`, () => describe(search));
  } finally {
    // Held pages go on: a pull still subscribed (it must not be) would now deliver and ask for more.
    env.observer.release();
  }
}

/** After the close: no pull subscribed, and the upstream's count grew by at most one page. */
function assertStopped(ctx: CheckContext, search: ObservedSearch, after: string): void {
  assert.equal(search.pullsAfterClose, 0, `${search.pullsAfterClose} pull(s) were subscribed after close() ${after}`);
  const atClose = search.upstreamAtClose ?? 0;
  const now = ctx.fixture.upstreamRequests();
  const onePage = Math.max(1, search.pageCost);
  assert.ok(
    now - atClose <= onePage,
    `the upstream kept being read ${after}: upstreamRequests() was ${atClose} at close() and is ${now} (one page costs at most ${onePage})`,
  );
}

export function interruptChecks(ctx: CheckContext): ContractCheck[] {
  return [
    {
      name: 'cancel mid-page closes the page source and stops the upstream requests',
      async run() {
        const env = ctx.env();
        const { search, subscription } = await searchUntilFirstChunk(ctx, env);
        subscription.unsubscribe(); // the hub sends `cancel`
        await closedAndSettled(env, search, 'after the cancel');
        for (let i = 0; i < SETTLE_ROUND_TRIPS; i++) await env.roundTrip();
        assertStopped(ctx, search, 'after the cancel');
      },
    },
    {
      name: 'disconnect mid-query closes the page source, stops the upstream requests, and the agent serves again after reconnecting',
      async run() {
        const env = ctx.env();
        const { search, subscription, ended } = await searchUntilFirstChunk(ctx, env);
        const link = env.link();
        const reconnected = env.reregistered(link);
        link.terminate(); // the connection drops, as a network failure drops it
        try {
          const outcome = await guard(ended, "the hub's side of the search failing");
          assert.ok(isProtocolError(outcome) && outcome.code === 'AGENT_DISCONNECTED', `the search at the hub ended with ${String(outcome)}, not AGENT_DISCONNECTED`);
          await closedAndSettled(env, search, 'after the connection dropped');
        } finally {
          subscription.unsubscribe();
        }
        await guard(reconnected, 'the agent registering again after the connection dropped');
        for (let i = 0; i < SETTLE_ROUND_TRIPS; i++) await env.roundTrip();
        assertStopped(ctx, search, 'after the connection dropped');
        const answer = (await env.hub.request({ ...at(env, SOURCE_NAMES.ok), op: 'test' })) as { ok?: unknown } | null;
        assert.equal(answer?.ok, true, `test after reconnecting answered ${JSON.stringify(answer)}`);
      },
    },
  ];
}
