export { backoff, backoffDelay, type BackoffDelays, type BackoffOptions } from './backoff.js';
export { keepAlive, KeepAliveTimeoutError, type KeepAliveOptions } from './keep-alive.js';
export { firstWithin, type FirstWithinOptions } from './await-frame.js';
export { chunk, chunkBySize, ItemTooLargeError, type ChunkLimits, type ChunkOptions } from './chunk.js';
export {
  creditStream,
  type CreditStreamEvent,
  type CreditStreamOptions,
  type PulledPage,
} from './credit-stream.js';
export { creditGate, CreditBufferOverflowError, type CreditGateOptions } from './credit-gate.js';
export { deadline, type DeadlineOptions } from './deadline.js';
export { boundedMerge, type BoundedMergeOptions } from './bounded-merge.js';
