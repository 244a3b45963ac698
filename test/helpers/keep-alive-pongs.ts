/**
 * Watches the hub's keep-alive on one agent session from outside: resolves with `n` once the
 * agent answered `n` of the hub's pings on it — the event "the session stayed up for n
 * keep-alive rounds" is awaited on.
 */
import type WebSocket from 'ws';
import type { AgentLink } from '../../src/hub/agent-link.js';

export function pongsOf(link: AgentLink, n: number): Promise<number> {
  // The link's socket is private; the test only listens on it.
  const ws = (link as unknown as { ws: WebSocket }).ws;
  return new Promise((resolve) => {
    let seen = 0;
    const onPong = (): void => {
      seen += 1;
      if (seen < n) return;
      ws.off('pong', onPong);
      resolve(seen);
    };
    ws.on('pong', onPong);
  });
}
