/**
 * The SCIM test server (`test/helpers/scim-server`) as a process of its own, for the e2e tests:
 * compiled to `dist/test-fixtures` by `tsconfig.scim-fixture.json` (see `scim-process.ts`) and
 * run with plain `node`, so the agent talks to it over a real socket of another process, as it
 * would to an HR system.
 *
 *   node scim-server-main.js [--users N] [--groups N] [--token T]
 *
 * stdout is JSON lines, like the daemons' pino logs: first `{"msg":"scim listening", url,
 * port, token, users, groups}`, then one `{"msg":"scim request", method, path, query, status}`
 * per request as it is answered — the SCIM counterpart of slapd's `stats` log, so a test can
 * count page GETs and POSTs. SIGTERM/SIGINT close the listener and exit 0.
 */
import { parseArgs } from 'node:util';
import { startScimServer } from '../scim-server/index.js';

const POLL_MS = 20;

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '300' },
    groups: { type: 'string', default: '5' },
    token: { type: 'string' },
  },
  strict: true,
});

function count(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`--${name} must be an integer >= 0, got ${JSON.stringify(raw)}`);
  return n;
}

const users = count('users', values.users);
const groups = count('groups', values.groups);
const server = await startScimServer({ users, groups, ...(values.token === undefined ? {} : { token: values.token }) });
const out = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ time: Date.now(), ...line })}\n`);
};
out({ msg: 'scim listening', url: server.url, port: server.port, token: server.token, users, groups });

// The server records requests in an array; report each once it has been answered, in arrival
// order (a request still in flight holds back the ones after it, so the order is kept).
let cursor = 0;
const report = setInterval(() => {
  for (; cursor < server.requests.length; cursor++) {
    const r = server.requests[cursor]!;
    if (r.end === undefined) break;
    out({ msg: 'scim request', method: r.method, path: r.path, query: r.query, status: r.status, ms: r.end - r.at });
  }
}, POLL_MS);

let stopping = false;
const stop = (signal: NodeJS.Signals): void => {
  if (stopping) return;
  stopping = true;
  clearInterval(report);
  out({ msg: 'scim stopping', signal });
  void server.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
