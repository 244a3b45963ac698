/**
 * The public adapter kit — `import { defineDataSource, … } from 'datasync-agent/adapter-kit'`.
 * Everything a data source needs, built-in or plugin: the built-in LDAP, SCIM and LDIF sources
 * are made from these same parts. Guide: docs/adapters.md.
 */
import * as t from 'io-ts';

// Defining and registering a data source.
export { defineDataSource, isDataSourceDefinition, type DataSourceDefinition, type DataSourceDefinitionInput } from './define.js';
export { registerDataSource, adapterTypes } from './registry.js';
export type { DataSourceConfig, DataSourceConfigBase, Isolation } from '../config/data-source-registry.js';

// The adapter interface.
export type {
  BatchPageSource,
  DataSourceAdapter,
  ExportResult,
  JournaledResult,
  OperationContext,
  Page,
  PageSource,
  RecordJournal,
  SearchSource,
} from './adapter.js';
export { isBatchSource } from './adapter.js';
export { JsonBatch } from './json-batch.js';

// Config codecs (io-ts, with positions and clear messages in `check`).
export { t };
export {
  AnyString,
  Bool,
  decoder,
  DEFAULT_OPERATIONS,
  DurationMs,
  HttpUrl,
  isRecord,
  LdapUrl,
  listOf,
  NonEmptyString,
  NonNegativeInt,
  oneOrMany,
  OperationName,
  OPERATIONS,
  orEmpty,
  Port,
  PositiveInt,
  ProxyUrl,
  recordOf,
  strictObject,
  withDefault,
} from '../config/codecs.js';
export type { Finding, Operation, StrictOf, StrictOptions } from '../config/codecs.js';

// Decoding what the hub sends, and coded errors.
export { badRequest, decodeOrThrow, recordDecoder, SOCKET_ERROR_CODES } from './decode.js';
export { errorTable, messageOf, type ErrorRule, type ErrorTableOptions } from './error-table.js';
export { REDACTED, scrub, scrubber, secretForms } from './scrub.js';
export { isProtocolError, ProtocolError, type ProtocolErrorContext } from '../protocol/errors.js';
export { ERROR_CODES, type ErrorCode } from '../protocol/error-codes.js';

// Streams.
export { fromCancellable } from './cancellable.js';
export { pageSourceFromAsyncIterator, type AsyncPagesOptions } from './async-pages.js';

// Export (writes): the shared loop with per-record accounting and the durable journal.
export { exportLoop, type AroundWrite, type ExportLoopOptions, type ExportTally, type RecordWriter, type VerifyOutcome } from './export-loop.js';

// Answers.
export { attributeList, testResult, type AttributeInfo, type TestResult } from './results.js';
