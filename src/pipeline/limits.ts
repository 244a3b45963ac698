import type { AgentConfig } from '../config/index.js';

/** The pipeline's bounds, from the agent config (see docs/configuration.md). */
export interface PipelineLimits {
  /** Requests running at once per session. */
  readonly maxConcurrentRequests: number;
  /** Requests waiting beyond that; more are answered BUSY. */
  readonly maxQueuedRequests: number;
  /** Cap of any request's deadline, whatever `timeoutMs` the hub asks for. */
  readonly maxRequestTimeoutMs: number;
  /** Negotiated frame size: chunks are cut to fit it. */
  readonly maxFrameBytes: number;
  /** Items per chunk at most (entries, records, results). */
  readonly maxChunkItems: number;
  /** search/export streams running at once over all sessions of the agent. */
  readonly maxConcurrentStreams: number;
  /** Export: record chunks the hub may send ahead of the agent's writes. */
  readonly streamWindow: number;
}

export function pipelineLimits(config: AgentConfig, maxFrameBytes: number): PipelineLimits {
  return {
    maxConcurrentRequests: config.maxConcurrentRequests,
    maxQueuedRequests: config.maxQueuedRequests,
    maxRequestTimeoutMs: config.maxRequestTimeout,
    maxFrameBytes,
    maxChunkItems: config.maxChunkItems,
    maxConcurrentStreams: config.maxConcurrentStreams,
    streamWindow: config.streamWindow,
  };
}

/**
 * Bytes a chunk frame needs besides its items:
 * `{"type":"chunk","id":"<≤128>","seq":<≤16 digits>,"items":[…]}` — rounded up generously.
 */
export const CHUNK_ENVELOPE_BYTES = 512;
