/**
 * The scope check of a directory rename (RFC 4511 §4.9 ModifyDN: entry, newrdn, newSuperior),
 * shared by the ldap and ldif data sources: every name it touches lies inside the data source's
 * base.
 */
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import { formatDn, isWithin, parseDn, type Rdn } from './dn.js';
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
