/**
 * The read side of the contract: `test` answers ok, schema discovery describes the data, `get`
 * finds its entry, and `search` streams every entry under the slowest legal credit (one chunk
 * granted per chunk received), with the exact count, the upstream's total, and its page source
 * closed once when the stream ends.
 */
import assert from 'node:assert/strict';
import { Subject, type Subscription } from 'rxjs';
import type { StreamEvent } from '../hub/request-sinks.js';
import type { Operation } from '../protocol/index.js';
import { at, skip, type CheckContext } from './check-context.js';
import { SOURCE_NAMES } from './environment.js';
import type { ContractCheck } from './fixture.js';
import { guard, until } from './wait.js';

/** Attribute names an entry carries (its `attributes` keys, else its own keys), lower case, options dropped. */
function attributeNames(entry: unknown): string[] {
  if (typeof entry !== 'object' || entry === null) return [];
  const attributes = (entry as { attributes?: unknown }).attributes;
  const source = typeof attributes === 'object' && attributes !== null && !Array.isArray(attributes) ? attributes : entry;
  const generic = new Set(['dn', 'id', 'key', 'schemas', 'meta', 'attributes']);
  return Object.keys(source)
    .map((k) => (k.split(';')[0] ?? k).toLowerCase())
    .filter((k) => !generic.has(k));
}

function describesTheData(ctx: CheckContext, op: Extract<Operation, 'schema' | 'attributes'>): ContractCheck {
  return {
    name: `${op} ${op === 'schema' ? 'describes' : 'describe'} the data (names attributes the entries have)`,
    async run() {
      const env = ctx.env();
      if (!env.supports.includes(op)) skip(`the adapter does not implement ${op}`);
      const answer = await env.hub.request({ ...at(env, SOURCE_NAMES.ok), op });
      const text = JSON.stringify(answer) ?? '';
      assert.ok(text.length > 100, `${op} answered almost nothing: ${text}`);
      const entry = await env.hub.request({ ...at(env, SOURCE_NAMES.ok), op: 'get', params: ctx.fixture.get.params });
      const names = attributeNames(entry);
      const lower = text.toLowerCase();
      assert.ok(
        names.some((name) => lower.includes(JSON.stringify(name))),
        `${op} names none of the attributes of the entry get found (${names.join(', ')}): ${text.slice(0, 300)}`,
      );
    },
  };
}

export function readChecks(ctx: CheckContext): ContractCheck[] {
  return [
    {
      name: 'test answers ok',
      async run() {
        const env = ctx.env();
        const answer = (await env.hub.request({ ...at(env, SOURCE_NAMES.ok), op: 'test' })) as { ok?: unknown } | null;
        assert.equal(answer?.ok, true, `test answered ${JSON.stringify(answer)}`);
      },
    },
    describesTheData(ctx, 'schema'),
    describesTheData(ctx, 'attributes'),
    {
      name: 'get returns one entry',
      async run() {
        const env = ctx.env();
        const entry = await env.hub.request({ ...at(env, SOURCE_NAMES.ok), op: 'get', params: ctx.fixture.get.params });
        assert.ok(ctx.fixture.get.matches(entry), `get answered an entry the fixture does not recognise: ${JSON.stringify(entry)?.slice(0, 300)}`);
      },
    },
    {
      name: 'search streams every entry under credit (one chunk granted per chunk), with the exact count, and closes its page source once',
      async run() {
        const env = ctx.env();
        const { params, count, total } = ctx.fixture.search;
        const before = env.observer.searches.length;
        const demand$ = new Subject<number>();
        const events: StreamEvent[] = [];
        let sub: Subscription | undefined;
        const done = new Promise<void>((resolve, reject) => {
          sub = env.hub.searchEvents$({ ...at(env, SOURCE_NAMES.ok), params }, { window: 1, demand$ }).subscribe({
            next: (e) => {
              events.push(e);
              // One chunk of credit per chunk received, after this one is handled: the slowest legal consumer.
              if (e.type === 'items') setImmediate(() => demand$.next(1));
            },
            error: reject,
            complete: resolve,
          });
        });
        try {
          await guard(done, `the search to end (${events.length} events so far)`);
        } finally {
          sub?.unsubscribe();
        }
        const chunks = events.filter((e) => e.type === 'items');
        const items = chunks.reduce((n, e) => n + e.count, 0);
        const end = events.at(-1);
        assert.equal(items, count, `the search streamed ${items} entries, the fixture says ${count} match`);
        assert.ok(end?.type === 'end', 'the search did not end with an end event');
        assert.equal(end.count, count, `end.count is ${end.count}, ${count} entries match`);
        assert.equal(end.total, total, `end.total is ${String(end.total)}, the fixture says ${String(total)}`);
        assert.ok(chunks.length > 1, `the search came in ${chunks.length} chunk(s): the fixture's search must span several pages`);

        const search = await until(env.observer.changed$, () => env.observer.searches.slice(before).find((s) => s.dataSource === SOURCE_NAMES.ok), 'the adapter creating the page source');
        await until(env.observer.changed$, () => (search.closes > 0 ? true : undefined), "the page source's close() after the last page", () => `${search.pages} pages, ${search.closes} closes`);
        await env.roundTrip();
        assert.equal(search.lastPages, 1, `the adapter yielded ${search.lastPages} pages marked last`);
        assert.equal(search.closes, 1, `close() was called ${search.closes} times: once is the contract`);
        assert.equal(search.pullsAfterClose, 0, `${search.pullsAfterClose} pull(s) were subscribed after close()`);
      },
    },
  ];
}
