/**
 * `@datasync-examples/jsonl-source`: a datasync-agent data source plugin serving a JSON-lines
 * file (`type: jsonl`). List it under `plugins:` in the agent's configuration; the agent
 * registers what `defineDataSource` returned (the default export here).
 *
 * ```yaml
 * plugins: ["@datasync-examples/jsonl-source"]   # or a path: ./plugins/jsonl-source
 * dataSources:
 *   people: { type: jsonl, file: ./people.jsonl, writable: true, operations: [test, attributes, get, search, export] }
 * ```
 */
import { defineDataSource } from 'datasync-agent/adapter-kit';
import { createJsonlAdapter } from './adapter.js';
import { describeJsonlTarget, JsonlSettings, resolveJsonlPaths, type JsonlConfig } from './config.js';

export const jsonlDataSource = defineDataSource<JsonlConfig>({
  type: 'jsonl',
  config: JsonlSettings,
  describeTarget: describeJsonlTarget,
  resolvePaths: resolveJsonlPaths,
  create: (name, config, log) => createJsonlAdapter(name, config, log),
});

export default jsonlDataSource;

export type { JsonlConfig } from './config.js';
export type { JsonlEntry } from './adapter.js';
/** Lines read so far by this module's data sources (a probe for tests and the contract suite). */
export { linesReadSoFar } from './file-records.js';
