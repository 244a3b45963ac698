/**
 * The demo's HTTP calls (src/cli/demo.ts `demoCommands`: the agents, test, search, get, export,
 * the document) written against the TypeScript types generated from the hub's OpenAPI document
 * (openapi-types.ts, `npm run openapi:types`). tsc checks that what the demo sends and what it
 * reads fit the document; test/unit/hub/openapi-types.test.ts checks that these parameters are
 * the ones the demo prints, and test/e2e/demo.test.ts runs the calls against the demo.
 */
import { request, type Dispatcher } from 'undici';
import type { components, paths } from './openapi-types.js';

type Schemas = components['schemas'];
type DataSourcePath<Op extends string> = `/v1/data-sources/{name}/${Op}`;
/** The JSON body of a 200 answer of `method path`. */
type Answer<P extends keyof paths, M extends 'get' | 'post'> = paths[P][M] extends { responses: { 200: { content: { 'application/json': infer B } } } } ? B : never;
type SearchBody = paths[DataSourcePath<'search'>]['post']['requestBody']['content']['application/json'];
type GetBody = paths[DataSourcePath<'get'>]['post']['requestBody']['content']['application/json'];

/** A line of a search answer: an entry, then the summary or an error (x-ndjson-line). */
export type SearchLine = Schemas['SearchEntry'] | Schemas['SearchEnd'] | Schemas['StreamError'];
/** A line of an export answer: a result per record, then the summary or an error (x-ndjson-line). */
export type ExportLine = Schemas['ExportResult'] | Schemas['ExportEnd'] | Schemas['StreamError'];

/** The demo's search: people whose cn starts with A, two attributes (an ldif data source). */
export const DEMO_SEARCH = { filter: '(&(objectClass=person)(cn=A*))', attributes: ['cn', 'mail'] } satisfies Schemas['LdifSearchParams'] & SearchBody;
/** The demo's get: one entry by DN. */
export const DEMO_GET = { dn: 'uid=zangstrom,ou=people,dc=demo,dc=example' } satisfies Schemas['LdifGetParams'] & GetBody;

export interface DemoAnswers {
  readonly agents: Answer<'/v1/agents', 'get'>;
  readonly test: Answer<DataSourcePath<'test'>, 'post'>;
  readonly search: SearchLine[];
  readonly get: Answer<DataSourcePath<'get'>, 'post'>;
  readonly export: ExportLine[];
  readonly document: Answer<'/v1/openapi.json', 'get'>;
}

export interface DemoTarget {
  /** `http://127.0.0.1:PORT` */
  readonly base: string;
  readonly token: string;
  readonly dataSource: string;
  readonly dispatcher: Dispatcher;
}

async function call(t: DemoTarget, method: 'GET' | 'POST', path: string, body?: { type: string; text: string }): Promise<string> {
  const res = await request(`${t.base}${path}`, {
    method,
    dispatcher: t.dispatcher,
    headers: { authorization: `Bearer ${t.token}`, ...(body === undefined ? {} : { 'content-type': body.type }) },
    ...(body === undefined ? {} : { body: body.text }),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${method} ${path} answered ${res.statusCode}: ${text}`);
  return text;
}

const lines = <L>(text: string): L[] =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as L);

/** Runs the demo's calls; `records` are the export's (NDJSON lines). */
export async function runDemoCalls(t: DemoTarget, records: readonly string[]): Promise<DemoAnswers> {
  const ds = `/v1/data-sources/${encodeURIComponent(t.dataSource)}`;
  const json = (value: unknown) => ({ type: 'application/json', text: JSON.stringify(value) });
  return {
    agents: JSON.parse(await call(t, 'GET', '/v1/agents')) as DemoAnswers['agents'],
    test: JSON.parse(await call(t, 'POST', `${ds}/test`)) as DemoAnswers['test'],
    search: lines<SearchLine>(await call(t, 'POST', `${ds}/search`, json(DEMO_SEARCH))),
    get: JSON.parse(await call(t, 'POST', `${ds}/get`, json(DEMO_GET))) as DemoAnswers['get'],
    export: lines<ExportLine>(await call(t, 'POST', `${ds}/export`, { type: 'application/x-ndjson', text: `${records.join('\n')}\n` })),
    document: JSON.parse(await call(t, 'GET', '/v1/openapi.json')) as DemoAnswers['document'],
  };
}

/** What a reader of the answers does with them, typed: the summary line of a search, the failed export results. */
export function summarise(a: DemoAnswers): { agents: string[]; entries: number; end: Schemas['SearchEnd'] | undefined; failed: Array<{ index: number; code: string }> } {
  const end = a.search.find((l): l is Schemas['SearchEnd'] => 'end' in l && l.end === true);
  const failed = a.export.flatMap((l) => ('index' in l && l.ok === false ? [{ index: l.index, code: l.code ?? '' }] : []));
  return { agents: a.agents.agents.map((x) => x.id), entries: a.search.length - 1, end, failed };
}
