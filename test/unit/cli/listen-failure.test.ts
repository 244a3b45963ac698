/**
 * The one line a CLI prints when a listener cannot bind (src/cli/listen-failure.ts), from real
 * bind errors of real sockets.
 */
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { hostPort, isListenFailure, listenFailureLine } from '../../../src/cli/listen-failure.js';

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

/** The error of listening on host:port, or undefined when it bound. */
async function bindError(port: number, host: string): Promise<unknown> {
  const server = createServer();
  servers.push(server);
  return new Promise((resolve) => {
    server.once('error', resolve);
    server.listen(port, host, () => resolve(undefined));
  });
}

describe('listenFailureLine', () => {
  it('EADDRINUSE: the address, the reason and the key to change in which file', async () => {
    expect(await bindError(0, '127.0.0.1')).toBeUndefined();
    const port = (servers[0]!.address() as { port: number }).port;
    const err = await bindError(port, '127.0.0.1');
    expect(isListenFailure(err)).toBe(true);
    if (!isListenFailure(err)) return;
    expect(listenFailureLine('datasync-hub', err, { portKey: 'listen.port', hostKey: 'listen.host', file: '/etc/datasync-hub/hub.yaml', host: '127.0.0.1', port })).toBe(
      `datasync-hub: cannot listen on 127.0.0.1:${port}: the address is already in use (EADDRINUSE) — another process holds it; stop that process or change listen.port in /etc/datasync-hub/hub.yaml`,
    );
  });

  it('EADDRNOTAVAIL: a host that is not this machine names the host key', async () => {
    // 192.0.2.1 (TEST-NET-1) is never an address of a test machine.
    const err = await bindError(0, '192.0.2.1');
    expect(isListenFailure(err)).toBe(true);
    if (!isListenFailure(err)) return;
    expect(listenFailureLine('datasync-agent', err, { portKey: 'status.listen', hostKey: 'status.listen', file: 'a.yaml', host: '192.0.2.1', port: 9464 })).toBe(
      'datasync-agent: cannot listen on 192.0.2.1:9464: 192.0.2.1 is not an address of this machine (EADDRNOTAVAIL); change status.listen in a.yaml',
    );
  });

  it('EACCES names the privileged-port fix; other errors are not listen failures', () => {
    const err = Object.assign(new Error('listen EACCES'), { code: 'EACCES', syscall: 'listen' });
    expect(listenFailureLine('datasync-hub', err, { portKey: 'listen.port', hostKey: 'listen.host', file: 'hub.yaml', host: '::', port: 443 })).toBe(
      'datasync-hub: cannot listen on [::]:443: permission denied (EACCES) — ports below 1024 need privileges; change listen.port in hub.yaml to 1024 or above, or grant the service CAP_NET_BIND_SERVICE',
    );
    expect(isListenFailure(Object.assign(new Error('open'), { code: 'EACCES', syscall: 'open' }))).toBe(false);
    expect(isListenFailure(new Error('boom'))).toBe(false);
    expect(hostPort('::1', 1)).toBe('[::1]:1');
  });
});
