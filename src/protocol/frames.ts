/**
 * Protocol v1 frames as one io-ts discriminated union tagged by `type`.
 * TypeScript types come from the codecs (`t.TypeOf`) so the schema exists once.
 */
import * as t from 'io-ts';
import { ERROR_CODE_LIST, REJECT_CODES, type ErrorCode, type RejectCode } from './error-codes.js';

const keysOf = <K extends string>(keys: readonly K[], name: string): t.KeyofC<Record<K, null>> =>
  t.keyof(Object.fromEntries(keys.map((k) => [k, null])) as Record<K, null>, name);

export const OPERATION_NAMES = ['test', 'attributes', 'schema', 'resourceTypes', 'get', 'search', 'export'] as const;
export const Operation = keysOf(OPERATION_NAMES, 'Operation');
export type Operation = t.TypeOf<typeof Operation>;

export const ErrorCodeC = keysOf<ErrorCode>(ERROR_CODE_LIST, 'ErrorCode');
export const RejectCodeC = keysOf<RejectCode>(Object.keys(REJECT_CODES) as RejectCode[], 'RejectCode');

interface NonNegativeIntBrand { readonly NonNegativeInt: unique symbol }
export const NonNegativeInt = t.brand(t.Int, (n): n is t.Branded<t.Int, NonNegativeIntBrand> => n >= 0, 'NonNegativeInt');
interface PositiveIntBrand { readonly PositiveInt: unique symbol }
export const PositiveInt = t.brand(t.Int, (n): n is t.Branded<t.Int, PositiveIntBrand> => n > 0, 'PositiveInt');
interface IdempotencyKeyBrand { readonly IdempotencyKey: unique symbol }
/** A caller's export idempotency key (the HTTP `Idempotency-Key` header): 1–255 printable ASCII characters. */
export const IdempotencyKey = t.brand(
  t.string,
  (s): s is t.Branded<string, IdempotencyKeyBrand> => s.length > 0 && s.length <= 255 && /^[\x20-\x7e]+$/.test(s),
  'IdempotencyKey',
);
export type IdempotencyKey = t.TypeOf<typeof IdempotencyKey>;
/** Digests of export keys an agent holds journals of (hex, 32 characters), see `exportKeyDigest`. */
const KeyDigest = t.refinement(t.string, (s) => /^[0-9a-f]{32}$/.test(s), 'KeyDigest');

interface RequestIdBrand { readonly RequestId: unique symbol }
/** Request ids are chosen by the hub: short printable strings, so they are safe in logs. */
export const RequestId = t.brand(
  t.string,
  (s): s is t.Branded<string, RequestIdBrand> => s.length > 0 && s.length <= 128 && /^[\x21-\x7e]+$/.test(s),
  'RequestId',
);
export type RequestId = t.TypeOf<typeof RequestId>;

export type NonNegativeInt = t.TypeOf<typeof NonNegativeInt>;

/**
 * Most credit one frame may grant (`credit.n`, `request.credit`): 2^31 − 1, RSocket's REQUEST_N
 * bound. More is a protocol violation, as is a stream's credit granted in total beyond 2^53 − 1
 * (where counting in doubles stops being exact).
 */
export const MAX_CREDIT = 2 ** 31 - 1;
/** A credit grant: a positive integer up to {@link MAX_CREDIT}. */
export const CreditCount = t.refinement(PositiveInt, (n) => n <= MAX_CREDIT, 'CreditCount');
/** Credit sent with a request: 0 up to {@link MAX_CREDIT}. */
export const InitialCredit = t.refinement(NonNegativeInt, (n) => n <= MAX_CREDIT, 'InitialCredit');
export type PositiveInt = t.TypeOf<typeof PositiveInt>;

/** Brands a locally computed number; a value outside the brand is a bug, hence RangeError. */
export function positiveInt(n: number): PositiveInt {
  if (!PositiveInt.is(n)) throw new RangeError(`expected a positive integer, got ${n}`);
  return n;
}
export function nonNegativeInt(n: number): NonNegativeInt {
  if (!NonNegativeInt.is(n)) throw new RangeError(`expected a non-negative integer, got ${n}`);
  return n;
}
export function requestId(s: string): RequestId {
  if (!RequestId.is(s)) throw new RangeError(`expected a request id (1-128 printable ASCII), got ${JSON.stringify(s)}`);
  return s;
}

const JsonObject = t.UnknownRecord;

const SessionKey = t.refinement(t.string, (s) => s.length > 0 && s.length <= 64 && /^[\x21-\x7e]+$/.test(s), 'SessionKey');

export const DataSourceInfo = t.intersection(
  [
    t.type({ name: t.string, type: t.string, operations: t.array(Operation) }),
    /** The agent keeps an export journal for this data source: exports may carry an idempotency key. */
    t.partial({ idempotentExport: t.boolean }),
  ],
  'DataSourceInfo',
);
export type DataSourceInfo = t.TypeOf<typeof DataSourceInfo>;

/** What the agent accepts, so the hub never sends more (optional: older agents omit it). */
export const AgentLimits = t.partial({ maxChunkItems: PositiveInt, maxConcurrentStreams: PositiveInt }, 'AgentLimits');

export const Hello = t.intersection(
  [
    t.type({
      type: t.literal('hello'),
      protocol: t.number,
      agent: t.type({ id: t.string, version: t.string, hostname: t.string }),
      tenantId: t.string,
      dataSources: t.array(DataSourceInfo),
    }),
    t.partial({
      limits: AgentLimits,
      /** Export journals this agent holds (newest first, at most 1,000), so a restarted hub routes their resends here. */
      exportKeys: t.array(KeyDigest),
      /**
       * Which of the agent's sessions this is (1-64 printable ASCII; the agent sends the index of
       * the URL in `agent.urls`). A registration replaces only the session of the same agent id
       * with the same key; absent is a key of its own (an older agent: one session per id).
       */
      sessionKey: SessionKey,
    }),
  ],
  'hello',
);

export const Limits = t.intersection([
  t.type({ maxFrameBytes: PositiveInt }),
  t.partial({ keepAliveIntervalMs: NonNegativeInt, maxConcurrentRequests: PositiveInt }),
]);

export const Welcome = t.type({ type: t.literal('welcome'), sessionId: t.string, limits: Limits }, 'welcome');

export const Reject = t.type({ type: t.literal('reject'), code: RejectCodeC, message: t.string }, 'reject');

export const Request = t.intersection(
  [
    t.type({
      type: t.literal('request'),
      id: RequestId,
      op: Operation,
      dataSource: t.string,
      params: JsonObject,
      timeoutMs: PositiveInt,
    }),
    t.partial({ credit: InitialCredit, idempotencyKey: IdempotencyKey }),
  ],
  'request',
);

export const Result = t.type({ type: t.literal('result'), id: RequestId, data: t.unknown }, 'result');

export const Chunk = t.type(
  { type: t.literal('chunk'), id: RequestId, seq: NonNegativeInt, items: t.array(t.unknown) },
  'chunk',
);

export const Credit = t.type({ type: t.literal('credit'), id: RequestId, n: CreditCount }, 'credit');

export const End = t.intersection(
  [t.type({ type: t.literal('end'), id: RequestId, count: NonNegativeInt }), t.partial({ truncated: t.boolean, total: NonNegativeInt })],
  'end',
);

export const ErrorFrame = t.intersection(
  [
    t.type({ type: t.literal('error'), code: ErrorCodeC, message: t.string, retryable: t.boolean }),
    t.partial({ id: RequestId, details: JsonObject }),
  ],
  'error',
);

export const Cancel = t.type({ type: t.literal('cancel'), id: RequestId }, 'cancel');

export const Frame = t.union([Hello, Welcome, Reject, Request, Result, Chunk, Credit, End, ErrorFrame, Cancel], 'Frame');

export type Hello = t.TypeOf<typeof Hello>;
export type Welcome = t.TypeOf<typeof Welcome>;
export type Reject = t.TypeOf<typeof Reject>;
export type Request = t.TypeOf<typeof Request>;
export type Result = t.TypeOf<typeof Result>;
export type Chunk = t.TypeOf<typeof Chunk>;
export type Credit = t.TypeOf<typeof Credit>;
export type End = t.TypeOf<typeof End>;
export type ErrorFrame = t.TypeOf<typeof ErrorFrame>;
export type Cancel = t.TypeOf<typeof Cancel>;
export type Frame = t.TypeOf<typeof Frame>;
export type FrameType = Frame['type'];

/** Codec per frame type, so a frame with a known `type` is checked against that shape only. */
export const FRAME_CODECS: { readonly [K in FrameType]: t.Type<Extract<Frame, { type: K }>, unknown> } = {
  hello: Hello,
  welcome: Welcome,
  reject: Reject,
  request: Request,
  result: Result,
  chunk: Chunk,
  credit: Credit,
  end: End,
  error: ErrorFrame,
  cancel: Cancel,
};
