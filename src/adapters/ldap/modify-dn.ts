/**
 * ModifyDN (RFC 4511 §4.9) with the knobs ldapts 8 does not expose.
 *
 * `client.modifyDN(dn, newDN)` always sends deleteoldrdn TRUE and splits `newDN` at the first
 * comma not preceded by a backslash into newrdn + newSuperior. We build the new RDN ourselves
 * with every special character hex-escaped (`\2C`, `\5C`), so the split is always right, and
 * pass newSuperior after the comma explicitly.
 *
 * deleteoldrdn FALSE needs a hand-built `ModifyDNRequest` sent through the client's internal
 * `_send` (ldapts 8.2.0, pinned): used only when asked for, behind a runtime shape check; the
 * start-up self-test (`ldapts-internals.ts`) logs a warning when an ldapts lacks them.
 *
 * The scope check of a rename (`renameTarget`) is the directory's: `../directory/rename.ts`.
 */
import { ModifyDNRequest, ModifyDNResponse, StatusCodeParser, type Client } from 'ldapts';
import { ProtocolError } from '../../protocol/errors.js';
import { formatDn, formatRdn, type Rdn } from '../directory/dn.js';

export interface RenameSpec {
  readonly dn: string;
  readonly newRdn: Rdn;
  /** New parent; absent = same parent. */
  readonly newSuperior?: readonly Rdn[];
  readonly deleteOldRdn: boolean;
}

interface ClientInternals {
  send(message: ModifyDNRequest): Promise<unknown>;
  nextMessageId(): number;
}

/** The two private methods we need, if this ldapts build still has them. */
function internalsOf(client: Client): ClientInternals | undefined {
  const c: object = client;
  if (!('_send' in c) || !('_nextMessageId' in c)) return undefined;
  const send = c._send;
  const next = c._nextMessageId;
  if (typeof send !== 'function' || typeof next !== 'function') return undefined;
  return {
    send: async (message) => {
      const pending: unknown = Reflect.apply(send, client, [message]);
      return await pending;
    },
    nextMessageId: () => {
      const id: unknown = Reflect.apply(next, client, []);
      if (typeof id !== 'number') throw new TypeError('ldapts internals changed: _nextMessageId() did not return a number');
      return id;
    },
  };
}

export async function renameEntry(client: Client, spec: RenameSpec): Promise<void> {
  const newRdn = formatRdn(spec.newRdn);
  const newSuperior = spec.newSuperior === undefined ? undefined : formatDn(spec.newSuperior);
  if (spec.deleteOldRdn) {
    await client.modifyDN(spec.dn, newSuperior === undefined ? newRdn : `${newRdn},${newSuperior}`);
    return;
  }
  const internals = internalsOf(client);
  if (internals === undefined) {
    throw new ProtocolError('BAD_REQUEST', 'rename with deleteOldRdn: false is not supported by this ldapts version');
  }
  if (!client.isConnected) throw new Error('Socket connection not established');
  const request = new ModifyDNRequest({
    messageId: internals.nextMessageId(),
    dn: spec.dn,
    newRdn,
    deleteOldRdn: false,
    ...(newSuperior === undefined ? {} : { newSuperior }),
  });
  const response = await internals.send(request);
  if (!(response instanceof ModifyDNResponse)) throw StatusCodeParser.parse(undefined);
  if (response.status !== 0) throw StatusCodeParser.parse(response);
}
