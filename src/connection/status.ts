import type { Session } from './session.js';

/**
 * Connection health of one hub URL: a discriminated union that logs, metrics and
 * the CLI subscribe to. `registered` carries the live session for the pipeline.
 */
export type ConnectionStatus =
  | { readonly state: 'connecting'; readonly url: string; readonly attempt: number }
  | { readonly state: 'registered'; readonly url: string; readonly sessionId: string; readonly session: Session }
  | {
      readonly state: 'disconnected';
      readonly url: string;
      readonly code: string;
      readonly reason: string;
      readonly retryInMs: number;
      readonly attempt: number;
    }
  | {
      readonly state: 'rejected';
      readonly url: string;
      readonly code: string;
      readonly reason: string;
      readonly retryInMs: number;
      readonly attempt: number;
    };

export type ConnectionState = ConnectionStatus['state'];

/** The loggable part of a status (no session object, no secrets). */
export function describeStatus(s: ConnectionStatus): Record<string, unknown> {
  switch (s.state) {
    case 'connecting':
      return { state: s.state, url: s.url, attempt: s.attempt };
    case 'registered':
      return { state: s.state, url: s.url, sessionId: s.sessionId };
    case 'disconnected':
    case 'rejected':
      return { state: s.state, url: s.url, code: s.code, reason: s.reason, retryInMs: s.retryInMs, attempt: s.attempt };
  }
}
