/**
 * ModifyDN (RFC 4511 §4.9) with the knobs ldapts 8 does not expose.
 *
 * `client.modifyDN(dn, newDN)` always sends deleteoldrdn TRUE and splits `newDN` at the first
 * comma not preceded by a backslash into newrdn + newSuperior. We build the new RDN ourselves
 * with every special character hex-escaped (`\2C`, `\5C`), so the split is always right, and
 * pass newSuperior after the comma explicitly.
 *
 * deleteoldrdn FALSE needs a hand-built `ModifyDNRequest` sent through the client's internal
 * `_send` (ldapts 8.2.0, pinned): used only when asked for, behind a runtime shape check.
 *
 * `renameTarget` is the scope check of a rename, shared by the ldap and ldif adapters.
 */
import { ModifyDNRequest, ModifyDNResponse, StatusCodeParser, type Client } from 'ldapts';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import { formatDn, formatRdn, isWithin, parseDn, type Rdn } from './dn.js';
import { badRequest, requireWithin } from './params.js';

/** What a rename record names (RFC 4511 §4.9: entry, newrdn, newSuperior). */
export interface RenameRequest {
  readonly dn: string;
  readonly newRdn: string;
  readonly newSuperior?: string;
}

/** A rename whose every name lies inside the data source's base. */
export interface RenameTarget {
  /** The entry renamed. */
  readonly rdns: Rdn[];
  readonly newRdn: Rdn;
  /** The new parent as given; absent = the same parent. */
  readonly newSuperior?: Rdn[];
  /** The entry's name after the rename: newRdn + (newSuperior ?? parent of dn). */
  readonly newDn: Rdn[];
}

/**
 * Checks a rename against the data source's scope: the entry, the new superior and the new DN
 * must each lie inside `baseDN` (OPERATION_NOT_ALLOWED otherwise), compared as `isWithin` does
 * (case, spacing and escaping of the base do not matter). The base entry itself is never
 * renamed: a ModifyDN of the base moves the whole data source, and with the same parent its new
 * name is outside the base by construction. `newRdn` must be exactly one RDN (BAD_REQUEST).
 */
export function renameTarget(request: RenameRequest, baseDN: string, context: ProtocolErrorContext = {}): RenameTarget {
  const rdns = requireWithin(request.dn, baseDN, 'dn', context);
  if (rdns.length === parseDn(baseDN).length) {
    throw new ProtocolError(
      'OPERATION_NOT_ALLOWED',
      `dn ${JSON.stringify(request.dn)} is the data source's baseDN ${JSON.stringify(baseDN)}: renaming it would move the whole data source`,
      context,
    );
  }
  const parsed = parseDn(request.newRdn);
  const newRdn = parsed[0];
  if (parsed.length !== 1 || newRdn === undefined) return badRequest(`newRdn ${JSON.stringify(request.newRdn)} must be exactly one RDN`, context);
  const newSuperior = request.newSuperior === undefined ? undefined : requireWithin(request.newSuperior, baseDN, 'newSuperior', context);
  const newDn = [newRdn, ...(newSuperior ?? rdns.slice(1))];
  // Implied by the two checks above; kept as the rule itself, should they ever change.
  if (!isWithin(newDn, baseDN)) {
    throw new ProtocolError('OPERATION_NOT_ALLOWED', `new DN ${JSON.stringify(formatDn(newDn))} is outside the data source's baseDN ${JSON.stringify(baseDN)}`, context);
  }
  return { rdns, newRdn, newDn, ...(newSuperior === undefined ? {} : { newSuperior }) };
}

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
