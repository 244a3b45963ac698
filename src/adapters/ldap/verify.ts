/**
 * Was an interrupted LDAP write applied? The export journal (docs/exports.md) finds an intent
 * without an outcome when the agent stopped while a record's write was on its way; before
 * anything is written again, the record is checked against the directory by reading back the
 * entries it names. LDAP applies each operation atomically (RFC 4511 §4.6, §4.7, §4.8, §4.9), so
 * an operation is either wholly visible or not at all:
 *
 *   add      entry exists with every value given → applied; absent → not applied; present
 *            with other values → unknown (another writer, or not ours)
 *   upsert   entry exists with every value given → applied; otherwise not applied (writing it
 *            again converges to the same state)
 *   delete   entry absent → applied; present → not applied
 *   modify   every change visible (added values present, deleted values or attributes absent,
 *            replaced attributes equal) → applied; entry absent or a change not visible → not
 *            applied (the modify is written again and answers for itself)
 *   rename   new DN present and old absent → applied; old present and new absent → not
 *            applied; anything else → unknown
 *
 * Values are compared by attribute (type and options case-insensitive, `;binary` a transfer
 * option) and as bytes; text values also match when they differ only in case and in insignificant
 * spaces, since servers may store values of DN and case-ignore syntaxes in a normalised form.
 */
import type { Client } from 'ldapts';
import type { VerifyOutcome } from '../../adapter-kit/export-loop.js';
import { attributeIdentity, hasBinaryOption } from '../directory/description.js';
import { formatDn, parentOf, parseDn } from '../directory/dn.js';
import { normaliseEntry } from './entry.js';
import type { LdapEntry } from '../directory/entry.js';
import { ldapResultCode } from '../directory/errors.js';
import type { ExportRecord } from '../directory/export-records.js';

/** Reads one entry with all its user attributes, or undefined when it does not exist. */
export async function readEntry(client: Client, dn: string): Promise<LdapEntry | undefined> {
  try {
    const { searchEntries } = await client.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: ['*'] });
    const entry = searchEntries[0];
    return entry === undefined ? undefined : normaliseEntry(entry);
  } catch (err) {
    if (ldapResultCode(err) === 32) return undefined; // noSuchObject
    throw err;
  }
}

/** Comparable forms of one value: its bytes (hex), and for text a case- and space-folded key. */
function forms(key: string, value: string): string[] {
  if (hasBinaryOption(key)) return [Buffer.from(value, 'base64').toString('hex')];
  const bytes = Buffer.from(value, 'utf8').toString('hex');
  return [bytes, `t:${value.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim()}`];
}

/** The values of an entry or record by attribute identity, in comparable forms. */
function valueSets(attributes: Readonly<Record<string, readonly string[]>>): Map<string, Set<string>> {
  const sets = new Map<string, Set<string>>();
  for (const [key, values] of Object.entries(attributes)) {
    const id = attributeIdentity(key);
    const set = sets.get(id) ?? new Set<string>();
    for (const v of values) for (const f of forms(key, v)) set.add(f);
    sets.set(id, set);
  }
  return sets;
}

/** Does `entry` hold this value of attribute `key`? */
function holds(entry: Map<string, Set<string>>, key: string, value: string): boolean {
  const set = entry.get(attributeIdentity(key));
  return set !== undefined && forms(key, value).some((f) => set.has(f));
}

function holdsAll(entry: LdapEntry, attributes: Readonly<Record<string, readonly string[]>>): boolean {
  const sets = valueSets(entry.attributes);
  return Object.entries(attributes).every(([key, values]) => values.every((v) => holds(sets, key, v)));
}

/** Number of values of the attribute `key` names (all keys of that attribute). */
function countOf(entry: LdapEntry, key: string): number {
  const id = attributeIdentity(key);
  return Object.entries(entry.attributes)
    .filter(([k]) => attributeIdentity(k) === id)
    .reduce((n, [, vs]) => n + vs.length, 0);
}

function modifyVisible(entry: LdapEntry, record: Extract<ExportRecord, { op: 'modify' }>): boolean {
  const sets = valueSets(entry.attributes);
  return record.changes.every((ch) => {
    const values = ch.values ?? [];
    switch (ch.operation) {
      case 'add':
        return values.every((v) => holds(sets, ch.attribute, v));
      case 'delete':
        return values.length === 0 ? countOf(entry, ch.attribute) === 0 : values.every((v) => !holds(sets, ch.attribute, v));
      case 'replace':
        return countOf(entry, ch.attribute) === values.length && values.every((v) => holds(sets, ch.attribute, v));
    }
  });
}

/** The DN a rename gives the entry. */
function renamedDn(record: Extract<ExportRecord, { op: 'rename' }>): string {
  const parent = record.newSuperior === undefined ? parentOf(parseDn(record.dn)) : parseDn(record.newSuperior);
  return formatDn([...parseDn(record.newRdn), ...(parent ?? [])]);
}

export async function verifyRecord(client: Client, record: ExportRecord): Promise<VerifyOutcome> {
  switch (record.op) {
    case 'add': {
      const entry = await readEntry(client, record.dn);
      if (entry === undefined) return 'not-applied';
      return holdsAll(entry, record.attributes) ? 'applied' : 'unknown';
    }
    case 'upsert': {
      const entry = await readEntry(client, record.dn);
      return entry !== undefined && holdsAll(entry, record.attributes) ? 'applied' : 'not-applied';
    }
    case 'delete':
      return (await readEntry(client, record.dn)) === undefined ? 'applied' : 'not-applied';
    case 'modify': {
      const entry = await readEntry(client, record.dn);
      return entry !== undefined && modifyVisible(entry, record) ? 'applied' : 'not-applied';
    }
    case 'rename': {
      const [before, after] = await Promise.all([readEntry(client, record.dn), readEntry(client, renamedDn(record))]);
      if (before === undefined && after !== undefined) return 'applied';
      if (before !== undefined && after === undefined) return 'not-applied';
      return 'unknown';
    }
  }
}
