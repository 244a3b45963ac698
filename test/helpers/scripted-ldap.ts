/**
 * A tiny scripted LDAP server (RFC 4511) for what slapd will not hold: DNs with bytes it refuses
 * (`FF`, `C0 AF`, a lone `E9`), one attribute spelled in several cases or with its options in
 * another order, values that are not UTF-8 in text attributes, empty attributes. Other servers
 * send such things (OpenLDAP refuses them, others are laxer), so the relay must pass them on
 * unchanged.
 *
 * It answers any simple bind with success, and a search with the scripted entries the base and
 * scope select (the filter is ignored) as SearchResultEntry messages, then SearchResultDone —
 * paged when the request carries the RFC 2696 control (the cookie is the offset; an empty cookie
 * ends the search). Unbind closes the connection; anything else is answered with
 * unwillingToPerform where the operation has a response. Only definite BER lengths, as RFC 4511
 * §5.1 requires.
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface ScriptedEntry {
  readonly dn: Buffer;
  /** In the order sent; a description may repeat (runs) and may have no values. */
  readonly attributes: ReadonlyArray<readonly [description: string, values: readonly Buffer[]]>;
}

export interface ScriptedSearch {
  readonly base: Buffer;
  readonly scope: number;
  readonly paged?: { readonly size: number; readonly cookie: Buffer };
}

export interface ScriptedLdap {
  readonly url: string;
  readonly port: number;
  /** Every search request received. */
  readonly searches: ScriptedSearch[];
  close(): Promise<void>;
}

const PAGED_RESULTS = '1.2.840.113556.1.4.319';

// ---- BER (X.690 §8) ----

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : lengthBytes(n);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

function lengthBytes(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const seq = (tag: number, ...children: Buffer[]) => tlv(tag, Buffer.concat(children));
const octets = (v: Buffer | string, tag = 0x04) => tlv(tag, typeof v === 'string' ? Buffer.from(v, 'utf8') : v);
function integer(n: number, tag = 0x02): Buffer {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(tag, Buffer.from(bytes));
}

interface Tlv {
  readonly tag: number;
  readonly content: Buffer;
  /** Bytes the element took. */
  readonly size: number;
}

/** One element at `at`, or undefined while it is incomplete. */
function readTlv(buf: Buffer, at = 0): Tlv | undefined {
  if (buf.length < at + 2) return undefined;
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let head = 2;
  if (len & 0x80) {
    const k = len & 0x7f;
    if (k === 0 || k > 4) throw new Error('scripted LDAP: unsupported BER length');
    if (buf.length < at + 2 + k) return undefined;
    len = 0;
    for (let i = 0; i < k; i++) len = len * 256 + buf[at + 2 + i]!;
    head += k;
  }
  if (buf.length < at + head + len) return undefined;
  return { tag, content: buf.subarray(at + head, at + head + len), size: head + len };
}

function children(content: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < content.length; ) {
    const t = readTlv(content, at);
    if (!t) throw new Error('scripted LDAP: truncated element');
    out.push(t);
    at += t.size;
  }
  return out;
}

const readInt = (t: Tlv) => t.content.reduce((n, byte) => n * 256 + byte, 0);

// ---- DNs: compared RDN by RDN after undoing RFC 4514 escapes, ASCII case folded ----

function rdns(dn: Buffer): string[] {
  const out: string[] = [];
  let cur: number[] = [];
  for (let i = 0; i < dn.length; i++) {
    const c = dn[i]!;
    if (c === 0x5c && i + 1 < dn.length) {
      const hex = dn.subarray(i + 1, i + 3).toString('latin1');
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        cur.push(parseInt(hex, 16));
        i += 2;
      } else cur.push(dn[++i]!);
    } else if (c === 0x2c) {
      out.push(Buffer.from(cur).toString('latin1').toLowerCase());
      cur = [];
    } else cur.push(c);
  }
  if (cur.length > 0 || out.length > 0) out.push(Buffer.from(cur).toString('latin1').toLowerCase());
  return out;
}

function inScope(dn: Buffer, base: Buffer, scope: number): boolean {
  const [d, b] = [rdns(dn), rdns(base)];
  const depth = d.length - b.length;
  if (depth < 0 || d.slice(depth).join('\u0000') !== b.join('\u0000')) return false;
  return scope === 0 ? depth === 0 : scope === 1 ? depth === 1 : true;
}

// ---- the server ----

function entryMessage(id: number, e: ScriptedEntry, attributes: readonly string[]): Buffer {
  const wanted = attributes.map((a) => a.toLowerCase());
  const all = wanted.length === 0 || wanted.includes('*');
  const attrs = e.attributes
    .filter(([d]) => all || wanted.includes(d.split(';')[0]!.toLowerCase()))
    .map(([d, values]) => seq(0x30, octets(d), seq(0x31, ...values.map((v) => octets(v)))));
  return seq(0x30, integer(id), seq(0x64, octets(e.dn), seq(0x30, ...attrs)));
}

const result = (id: number, tag: number, code: number, controls?: Buffer) =>
  seq(0x30, integer(id), seq(tag, integer(code, 0x0a), octets(''), octets('')), ...(controls ? [controls] : []));

function answerSearch(socket: Socket, id: number, op: Tlv, controls: Tlv | undefined, entries: readonly ScriptedEntry[], log: ScriptedSearch[]): void {
  const [base, scope, , , , , , attrs] = children(op.content);
  const requested = attrs ? children(attrs.content).map((a) => a.content.toString('utf8')) : [];
  let paged: { size: number; cookie: Buffer } | undefined;
  for (const control of controls ? children(controls.content) : []) {
    const [oid, ...rest] = children(control.content);
    const value = rest.find((r) => r.tag === 0x04);
    if (oid?.content.toString('latin1') === PAGED_RESULTS && value) {
      const [size, cookie] = children(children(value.content)[0]!.content);
      paged = { size: readInt(size!), cookie: Buffer.from(cookie!.content) };
    }
  }
  const search = { base: Buffer.from(base!.content), scope: readInt(scope!), ...(paged ? { paged } : {}) };
  log.push(search);
  const matches = entries.filter((e) => inScope(e.dn, search.base, search.scope));
  if (search.scope === 0 && matches.length === 0) {
    socket.write(result(id, 0x65, 32));
    return;
  }
  let page = matches;
  let control: Buffer | undefined;
  if (paged) {
    const from = paged.cookie.length === 0 ? 0 : Number(paged.cookie.toString('latin1'));
    const to = paged.size === 0 ? from : Math.min(matches.length, from + paged.size);
    page = matches.slice(from, to);
    const cookie = to < matches.length && paged.size > 0 ? String(to) : '';
    control = seq(0xa0, seq(0x30, octets(PAGED_RESULTS), octets(seq(0x30, integer(0), octets(cookie)))));
  }
  socket.write(Buffer.concat([...page.map((e) => entryMessage(id, e, requested)), result(id, 0x65, 0, control)]));
}

function serve(socket: Socket, entries: readonly ScriptedEntry[], log: ScriptedSearch[]): void {
  let pending = Buffer.alloc(0);
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    try {
      for (let msg = readTlv(pending); msg; msg = readTlv(pending)) {
        pending = pending.subarray(msg.size);
        const [idTlv, op, controls] = children(msg.content);
        const id = readInt(idTlv!);
        switch (op!.tag) {
          case 0x60: // BindRequest → BindResponse
            socket.write(result(id, 0x61, 0));
            break;
          case 0x42: // UnbindRequest
            socket.end();
            return;
          case 0x63:
            answerSearch(socket, id, op!, controls?.tag === 0xa0 ? controls : undefined, entries, log);
            break;
          case 0x50: // AbandonRequest: no response
            break;
          case 0x77: // ExtendedRequest → ExtendedResponse, unwillingToPerform
            socket.write(result(id, 0x78, 53));
            break;
          default: // modify, add, delete, modDN, compare: each has a response of tag + 1
            socket.write(result(id, (op!.tag | 0x20) + 1, 53));
        }
      }
    } catch {
      socket.destroy();
    }
  });
}

export async function startScriptedLdap(entries: readonly ScriptedEntry[]): Promise<ScriptedLdap> {
  const searches: ScriptedSearch[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serve(socket, entries, searches);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `ldap://127.0.0.1:${port}`,
    port,
    searches,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
