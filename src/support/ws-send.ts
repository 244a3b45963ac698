/**
 * Writing one WebSocket text message: from a string, or from byte parts sent as fragments of
 * one message; sockets corked per tick. A neutral leaf shared by the agent's hub connection
 * (`connection/session.ts`) and the hub's side of it (`hub/agent-link.ts`), each of which
 * encodes its protocol frames before handing the bytes here.
 */
import type WebSocket from 'ws';

/** Sockets corked for the current tick (see `corkForTick`). */
const corked = new WeakSet<object>();

/**
 * Frames sent in one tick go to the kernel in one write: the socket is corked at the first
 * send of a tick and uncorked once the tick's callbacks and microtasks have run. Concurrent
 * small answers then cost one system call, not one each; a lone frame waits for nothing.
 */
function corkForTick(ws: WebSocket): void {
  const socket = (ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
  if (socket === undefined || corked.has(socket)) return;
  corked.add(socket);
  socket.cork();
  process.nextTick(() => {
    corked.delete(socket);
    socket.uncork();
  });
}

/**
 * Encodes (`encode`, called first: its throw rejects) and writes one text message; the promise
 * settles from ws's send callback. A message given as byte parts goes out as those bytes, one
 * fragment per part (no copy; nothing else can be sent between the fragments, all written at
 * once).
 */
export function sendWsMessage(ws: WebSocket, encode: () => string | readonly Buffer[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let data: string | readonly Buffer[];
    try {
      data = encode();
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (ws.readyState !== ws.OPEN) {
      reject(new Error(`socket is not open (readyState ${ws.readyState})`));
      return;
    }
    const done = (err?: Error): void => (err ? reject(err) : resolve());
    corkForTick(ws);
    if (typeof data === 'string') {
      ws.send(data, done);
      return;
    }
    const last = data.length - 1;
    data.forEach((part, i) => {
      if (i < last) ws.send(part, { binary: false, fin: false });
      else ws.send(part, { binary: false, fin: true }, done);
    });
  });
}
