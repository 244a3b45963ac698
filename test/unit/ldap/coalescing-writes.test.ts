/**
 * The LDAP pool's sockets send the requests issued in one tick in one write (`coalescingWrites`
 * in client-pool.ts): over a real loopback socket, writes of one tick reach the stream's
 * `_writev` together, writes of the next tick go out on their own, and every byte arrives in order.
 */
import * as net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { coalescingWrites } from '../../../src/adapters/ldap/client-pool.js';

describe('coalescingWrites', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const f of cleanup.splice(0)) f();
  });

  it('one flush per tick, every byte in order', async () => {
    let received = '';
    const server = net.createServer((peer) => peer.on('data', (d: Buffer) => (received += d.toString())));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanup.push(() => server.close());
    const { port } = server.address() as net.AddressInfo;
    const socket = coalescingWrites(net.connect)({ port, host: '127.0.0.1' });
    cleanup.push(() => socket.destroy());
    await once(socket, 'connect');

    // What the stream hands to the system: one _writev per flush of several chunks, _write for one.
    const flushes: number[] = [];
    const writev = socket._writev?.bind(socket);
    const write = socket._write.bind(socket);
    socket._writev = (chunks, cb) => {
      flushes.push(chunks.length);
      writev?.(chunks, cb);
    };
    socket._write = (chunk, encoding, cb) => {
      flushes.push(1);
      write(chunk, encoding, cb);
    };

    for (const s of ['a', 'b', 'c']) socket.write(s);
    await Promise.resolve().then(() => socket.write('d')); // a microtask of the same tick
    expect(flushes).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(flushes).toEqual([4]);
    socket.write('e');
    await new Promise((r) => setImmediate(r));
    expect(flushes).toEqual([4, 1]);
    socket.end();
    await new Promise<void>((r) => {
      const check = (): void => (received.length >= 5 ? r() : void setTimeout(check, 5));
      check();
    });
    expect(received).toBe('abcde');
  });
});
