/**
 * The contract every data source must honour, seen from the hub's caller (STYLE §15): one
 * suite, run against each real backend (`*.contract.test.ts`). A data source that passes it
 * "works"; adapter-specific behaviour is tested on top, next to the adapter.
 */
import { Subject, lastValueFrom, toArray, type Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/hub/request-sinks.js';
import { basicAgentYaml, isState, makeEnv, startAgent, startHub, type Env, type RunningHub, type TestAgent } from '../helpers/relay-env.js';

export interface ContractBackend {
  /** YAML of one `dataSources` entry (without the name), indented by 4. */
  dataSource(kind: 'ok' | 'badCredentials' | 'unreachable' | 'readOnly'): string;
  /** Params of a search that matches exactly `searchCount` entries (enough for several pages). */
  readonly searchParams: Record<string, unknown>;
  readonly searchCount: number;
  /** The total the upstream reports for that search (`end.total`), if it reports one. */
  readonly searchTotal?: number;
  /** Params of a `get` that finds one entry, and a predicate recognising it. */
  readonly getParams: Record<string, unknown>;
  isGetResult(result: unknown): boolean;
  /** Export records whose middle one (index `failingIndex`) must fail; the others succeed. */
  exportRecords(): unknown[];
  readonly failingIndex: number;
  /** Upstream requests counted so far (LDAP: SRCH page requests; SCIM: GETs), to see pulls stop. */
  upstreamSearchRequests(): number;
  close(): Promise<void>;
}

export function dataSourceContract(name: string, start: () => Promise<ContractBackend>): void {
  describe(`data-source contract: ${name}`, () => {
    let env: Env;
    let backend: ContractBackend;
    let hub: RunningHub;
    let agent: TestAgent;
    const ds = (dataSource: string) => ({ tenantId: '1', dataSource });

    beforeAll(async () => {
      env = makeEnv();
      backend = await start();
      hub = await startHub(env);
      const yaml = `dataSources:
  ok:
${backend.dataSource('ok')}
  bad-credentials:
${backend.dataSource('badCredentials')}
  unreachable:
${backend.dataSource('unreachable')}
  read-only:
${backend.dataSource('readOnly')}
`;
      agent = startAgent(env, basicAgentYaml(env, [hub.url]), yaml);
      await agent.statuses.next(isState('registered'));
    }, 120_000);

    afterAll(async () => {
      await agent?.agent.close();
      await hub?.close();
      await backend?.close();
      env?.cleanup();
    });

    it('test answers ok', async () => {
      const r = (await hub.hub.request({ ...ds('ok'), op: 'test' })) as { ok?: unknown };
      expect(r.ok).toBe(true);
    });

    it('schema discovery: schema and attributes describe the data', async () => {
      const schema = await hub.hub.request({ ...ds('ok'), op: 'schema' });
      const attributes = await hub.hub.request({ ...ds('ok'), op: 'attributes' });
      expect(JSON.stringify(schema).length).toBeGreaterThan(100);
      expect(JSON.stringify(attributes).length).toBeGreaterThan(100);
    });

    it('get returns one entry', async () => {
      const r = await hub.hub.request({ ...ds('ok'), op: 'get', params: backend.getParams });
      expect(backend.isGetResult(r)).toBe(true);
    });

    it('search streams every entry under credit, with the exact count', async () => {
      const demand$ = new Subject<number>();
      const events: StreamEvent[] = [];
      const done = new Promise<void>((resolve, reject) => {
        const sub: Subscription = hub.hub.searchEvents$({ ...ds('ok'), params: backend.searchParams }, { window: 1, demand$ }).subscribe({
          next: (e) => {
            events.push(e);
            // One chunk of credit per chunk received: the slowest legal consumer.
            if (e.type === 'items') setImmediate(() => demand$.next(1));
          },
          error: reject,
          complete: () => {
            sub.unsubscribe();
            resolve();
          },
        });
      });
      await done;
      const items = events.flatMap((e) => (e.type === 'items' ? e.items : []));
      expect(items).toHaveLength(backend.searchCount);
      expect(events.at(-1)).toMatchObject({ type: 'end', count: backend.searchCount });
      const end = events.at(-1);
      expect(end?.type === 'end' ? end.total : undefined).toBe(backend.searchTotal);
      expect(events.filter((e) => e.type === 'items').length).toBeGreaterThan(1);
    });

    it('export: one result per record, in order, and the batch goes on after a failing record', async () => {
      const records = backend.exportRecords();
      const results = (await lastValueFrom(hub.hub.export$(ds('ok'), records).pipe(toArray<unknown>()))) as Array<{ index: number; ok: boolean; code?: string }>;
      expect(results.map((r) => r.index)).toEqual(records.map((_, i) => i));
      expect(results.filter((r) => !r.ok).map((r) => r.index)).toEqual([backend.failingIndex]);
      expect(typeof results[backend.failingIndex]?.code).toBe('string');
    });

    it('cancel mid-stream stops the upstream requests', async () => {
      let n = 0;
      await new Promise<void>((resolve, reject) => {
        const sub = hub.hub.search$({ ...ds('ok'), params: backend.searchParams }).subscribe({
          next: () => {
            if (++n === 1) {
              sub.unsubscribe();
              resolve();
            }
          },
          error: reject,
        });
      });
      await new Promise((r) => setTimeout(r, 300));
      const after = backend.upstreamSearchRequests();
      await new Promise((r) => setTimeout(r, 500));
      expect(backend.upstreamSearchRequests()).toBe(after);
    });

    it('an unreachable upstream is UPSTREAM_UNAVAILABLE (retryable)', async () => {
      await expect(hub.hub.request({ ...ds('unreachable'), op: 'test' })).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
    });

    it('bad credentials are UPSTREAM_AUTH_FAILED (not retryable)', async () => {
      await expect(hub.hub.request({ ...ds('bad-credentials'), op: 'test' })).rejects.toMatchObject({ code: 'UPSTREAM_AUTH_FAILED', retryable: false });
    });

    it('operations outside the allow-list are OPERATION_NOT_ALLOWED', async () => {
      await expect(lastValueFrom(hub.hub.export$(ds('read-only'), backend.exportRecords().slice(0, 1)))).rejects.toMatchObject({
        code: 'OPERATION_NOT_ALLOWED',
      });
    });
  });
}
