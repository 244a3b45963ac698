/**
 * The in-memory directory: a tree of entries under `baseDN`, children keyed by normalised RDN,
 * and the write operations of RFC 4511 (add §4.7, modify §4.6, delete §4.8, modify DN §4.9)
 * with their result codes. Failures are ldapts `ResultCodeError`s, so they go through the one
 * LDAP result-code table of the ldap adapter (`src/adapters/directory/errors.ts`) and report exactly
 * what an LDAP server's refusal would.
 *
 * Every write is all-or-nothing: a modify applies its changes to a copy and swaps it in only
 * when every change and the final checks pass (RFC 4511 §4.6 "applied atomically").
 */
import {
  AlreadyExistsError,
  NamingViolationError,
  NoSuchAttributeError,
  NoSuchObjectError,
  NotAllowedOnNonLeafError,
  NotAllowedOnRDNError,
  ObjectClassViolationError,
  TypeOrValueExistsError,
  UndefinedTypeError,
} from 'ldapts';
import { formatRdn, isWithin, parseDn, type Rdn } from '../directory/dn.js';
import { avaValue, nameOf, type DirName } from './names.js';
import { childrenOf, DirNode, type EntryNode } from './dir-node.js';
import { pack, SharedValues, unpack } from './flat-attributes.js';
import { attributeKey, identities, newAttr, rdnId, storedValue, valueIdentity, withoutBinaryOption, type Attr, type Value } from './values.js';

export { dnId, rdnId } from './values.js';
export { DirNode, type EntryNode } from './dir-node.js';

export interface AttributeInput {
  readonly name: string;
  readonly values: readonly Value[];
}

export interface ChangeInput {
  readonly operation: 'add' | 'delete' | 'replace';
  readonly name: string;
  readonly values: readonly Value[];
}

export type Scope = 'base' | 'one' | 'sub';

/**
 * A DN given to the directory: a string (RFC 4514, `\XX` escapes for bytes that are not UTF-8)
 * or the name's exact bytes (names.ts). Writes take the string's parse too, when the caller has it.
 */
export type DnInput = string | Buffer;

function exactName(dn: DnInput, rdns?: readonly Rdn[]): { name: DirName; rdns: Rdn[] } {
  const name = nameOf(dn);
  return { name, rdns: rdns === undefined || Buffer.isBuffer(dn) ? parseDn(name.dn) : [...rdns] };
}

const show = (v: Value): string => (Buffer.isBuffer(v) ? `<${v.length} bytes>` : JSON.stringify(v));

/** Adds values to an attribute (creating it); a value already there is attributeOrValueExists (20). */
function addValues(attributes: Map<string, Attr>, name: string, values: readonly Value[], dn: string): void {
  const key = attributeKey(name);
  if (key === 'dn') throw new UndefinedTypeError(`'dn' is not an attribute (entry ${dn})`);
  const attr = attributes.get(key) ?? newAttr(name);
  // One value into an empty attribute of a type without stored identities (most attributes of
  // most entries): there is nothing it could repeat.
  if (attr.values.length === 0 && values.length === 1 && attr.keys === undefined) {
    attr.values.push(storedValue(name, values[0] as Value));
    attributes.set(key, attr);
    return;
  }
  const seen = new Set(identities(attr));
  for (const given of values) {
    const v = storedValue(name, given);
    const id = valueIdentity(name, v);
    if (seen.has(id)) throw new TypeOrValueExistsError(`${name}: value ${show(v)} is already in ${dn}`);
    seen.add(id);
    attr.values.push(v);
    attr.keys?.push(id);
  }
  if (attr.values.length > 0) attributes.set(key, attr);
}

/** Removes one value; false if it is not there. */
function removeValue(attributes: Map<string, Attr>, name: string, value: Value): boolean {
  const key = attributeKey(name);
  const attr = attributes.get(key);
  const i = attr === undefined ? -1 : identities(attr).indexOf(valueIdentity(name, storedValue(name, value)));
  if (attr === undefined || i === -1) return false;
  attr.values.splice(i, 1);
  attr.keys?.splice(i, 1);
  if (attr.values.length === 0) attributes.delete(key);
  return true;
}

function hasValue(attributes: Map<string, Attr>, name: string, value: Value): boolean {
  const attr = attributes.get(attributeKey(name));
  return attr !== undefined && identities(attr).includes(valueIdentity(name, storedValue(name, value)));
}

/** RFC 4511 §4.7: an entry holds its RDN's values ("along with those from the RDN"). */
function addRdnValues(attributes: Map<string, Attr>, rdn: Rdn, dn: string): void {
  for (const ava of rdn) if (ava.ber !== true && !hasValue(attributes, ava.type, avaValue(ava))) addValues(attributes, ava.type, [avaValue(ava)], dn);
}

const OBJECT_CLASS = attributeKey('objectClass');

function checkEntry(attributes: Map<string, Attr>, rdn: Rdn, dn: string): void {
  if ((attributes.get(OBJECT_CLASS)?.values.length ?? 0) === 0) throw new ObjectClassViolationError(`${dn}: an entry needs an objectClass`);
  for (const ava of rdn) {
    if (ava.ber !== true && !hasValue(attributes, ava.type, avaValue(ava))) {
      throw new NotAllowedOnRDNError(`${dn}: ${ava.type} value ${show(avaValue(ava))} is the entry's RDN and cannot be removed (rename the entry instead)`);
    }
  }
}

/** The name of `rdn` below a parent (its bytes too, when either holds bytes that are not UTF-8). */
function joinName(rdn: Rdn, parent: DirNode | undefined): DirName {
  const own = formatRdn(rdn);
  if (parent === undefined || parent.dn === '') return nameOf(own);
  if (parent.dnBytes === undefined) return nameOf(`${own},${parent.dn}`);
  return nameOf(Buffer.concat([nameOf(own).binary ?? Buffer.from(own, 'utf8'), Buffer.from(','), parent.dnBytes]));
}

/** Values of several descriptions of one attribute (`cn` and `cn;binary`) merged under the first. */
export function mergeAttributes(attributes: readonly AttributeInput[]): AttributeInput[] {
  const groups = new Map<string, { name: string; values: Value[] }>();
  for (const a of attributes) {
    const key = attributeKey(a.name);
    const group = groups.get(key) ?? { name: withoutBinaryOption(a.name), values: [] };
    group.values.push(...a.values);
    groups.set(key, group);
  }
  return [...groups.values()];
}

export class Directory {
  readonly root: DirNode;
  private readonly baseRdns: Rdn[];
  private count = 0;
  /** Text values stored once for all entries (flat-attributes.ts). */
  private readonly shared = new SharedValues();

  constructor(readonly baseDN: string) {
    const base = nameOf(baseDN);
    this.baseRdns = parseDn(base.dn);
    this.root = new DirNode(base, undefined);
  }

  /** Number of entries. */
  get size(): number {
    return this.count;
  }

  /** The node of a DN inside the base (the base may have no entry); `undefined` if absent or outside. */
  lookup(dn: readonly Rdn[] | DnInput): DirNode | undefined {
    const rdns = typeof dn === 'string' || Buffer.isBuffer(dn) ? parseDn(nameOf(dn).dn) : [...dn];
    if (!isWithin(rdns, this.baseRdns)) return undefined;
    let node: DirNode | undefined = this.root;
    for (let i = rdns.length - this.baseRdns.length - 1; i >= 0 && node !== undefined; i--) {
      node = node.children.get(rdnId(rdns[i] ?? []));
    }
    return node;
  }

  /** The node of an existing entry. */
  entry(dn: readonly Rdn[] | DnInput): EntryNode | undefined {
    const node = this.lookup(dn);
    return node?.attributes === undefined ? undefined : (node as EntryNode);
  }

  private existing(input: DnInput, given: readonly Rdn[] | undefined): { node: EntryNode; dn: string } {
    const { name, rdns } = exactName(input, given);
    const node = this.entry(rdns);
    if (node === undefined) throw new NoSuchObjectError(`no entry ${JSON.stringify(name.dn)}`);
    return { node, dn: name.dn };
  }

  /**
   * Adds an entry; its parent must exist (the base counts even without an entry). `rdns` is
   * `dn` parsed, if the caller has it. Values are stored as given (see `storedValue`).
   */
  add(input: DnInput, given: readonly Rdn[] | undefined, attributes: readonly AttributeInput[]): DirNode {
    const { name, rdns } = exactName(input, given);
    const dn = name.dn;
    if (rdns.length === 0) throw new NamingViolationError('the root DSE (empty DN) is not an entry that can be added');
    if (!isWithin(rdns, this.baseRdns)) throw new NoSuchObjectError(`${JSON.stringify(dn)} is not inside ${JSON.stringify(this.baseDN)}`);
    const isBase = rdns.length === this.baseRdns.length;
    const parent = isBase ? undefined : this.lookup(rdns.slice(1));
    const rdn = rdns[0] ?? [];
    if (isBase ? this.root.attributes !== undefined : parent?.children.has(rdnId(rdn))) throw new AlreadyExistsError(`entry ${JSON.stringify(dn)} already exists`);
    if (!isBase && parent === undefined) throw new NoSuchObjectError(`the parent of ${JSON.stringify(dn)} does not exist`);
    const map = new Map<string, Attr>();
    for (const a of attributes) addValues(map, a.name, a.values, dn);
    addRdnValues(map, rdn, dn);
    checkEntry(map, rdn, dn);
    let node: DirNode;
    if (parent === undefined) {
      node = this.root;
      node.setName(name);
    } else {
      node = new DirNode(name, parent);
      childrenOf(parent).set(rdnId(rdn), node);
    }
    node.attributes = pack(map, this.shared);
    this.count++;
    return node;
  }

  /** Applies changes in order, atomically (RFC 4511 §4.6). */
  modify(input: DnInput, given: readonly Rdn[] | undefined, changes: readonly ChangeInput[]): void {
    const { node, dn } = this.existing(input, given);
    const next = unpack(node.attributes);
    for (const ch of changes) {
      const key = attributeKey(ch.name);
      const attr = next.get(key);
      if (ch.operation === 'add') {
        addValues(next, ch.name, ch.values, dn);
      } else if (ch.operation === 'delete') {
        if (attr === undefined) throw new NoSuchAttributeError(`${dn} has no attribute ${ch.name}`);
        for (const v of ch.values) {
          if (!removeValue(next, ch.name, v)) throw new NoSuchAttributeError(`${ch.name}: ${dn} has no value ${show(v)}`);
        }
        if (ch.values.length === 0) next.delete(key);
      } else {
        next.delete(key);
        addValues(next, attr?.name ?? ch.name, ch.values, dn);
      }
    }
    checkEntry(next, node.rdn, dn);
    node.attributes = pack(next, this.shared);
  }

  /**
   * Adds the entry, or replaces exactly the given attributes of the existing one (`cn` and
   * `cn;binary` are one attribute: their values replace it together).
   */
  upsert(input: DnInput, given: readonly Rdn[] | undefined, attributes: readonly AttributeInput[]): 'added' | 'replaced' {
    const { name, rdns } = exactName(input, given);
    if (this.entry(rdns) === undefined) {
      this.add(name.binary ?? name.dn, rdns, attributes);
      return 'added';
    }
    this.modify(
      name.binary ?? name.dn,
      rdns,
      mergeAttributes(attributes).map((a) => ({ operation: 'replace' as const, name: a.name, values: a.values })),
    );
    return 'replaced';
  }

  /** Deletes a leaf entry (RFC 4511 §4.8: notAllowedOnNonLeaf otherwise). */
  delete(input: DnInput, given?: readonly Rdn[]): void {
    const { node, dn } = this.existing(input, given);
    if (node.children.size > 0) throw new NotAllowedOnNonLeafError(`${dn} has ${node.children.size} entries below it; delete them first`);
    node.parent?.children.delete(node.id);
    // Also tells a search holding this node (read ahead) that it is gone.
    const gone: DirNode = node;
    gone.attributes = undefined;
    this.count--;
  }

  /**
   * Modify DN (RFC 4511 §4.9): new RDN, optionally a new parent; the subtree moves along.
   * The caller has checked that the new DN lies inside the base. `newRdn` and `newSuperior`
   * may be given parsed or as strings.
   */
  rename(input: DnInput, given: readonly Rdn[] | undefined, rdnInput: Rdn | string, superior: readonly Rdn[] | DnInput | undefined, deleteOldRdn: boolean): DirNode {
    const { node, dn } = this.existing(input, given);
    const newRdn = typeof rdnInput === 'string' ? (parseDn(nameOf(rdnInput).dn)[0] ?? []) : rdnInput;
    const from = node.parent;
    if (from === undefined) throw new NamingViolationError(`${dn} is the base of the data source and cannot be renamed`);
    const to = superior === undefined ? from : this.lookup(superior);
    if (to === undefined) throw new NoSuchObjectError(`new superior of ${dn} does not exist`);
    for (let p: DirNode | undefined = to; p !== undefined; p = p.parent) {
      if (p === node) throw new NamingViolationError(`cannot move ${dn} below itself`);
    }
    const id = rdnId(newRdn);
    const clash = to.children.get(id);
    if (clash !== undefined && clash !== node) throw new AlreadyExistsError(`entry ${JSON.stringify(joinName(newRdn, to).dn)} already exists`);
    const next = unpack(node.attributes);
    const oldRdn = node.rdn;
    if (deleteOldRdn) {
      for (const ava of oldRdn) {
        const kept = newRdn.some((n) => attributeKey(n.type) === attributeKey(ava.type) && valueIdentity(n.type, avaValue(n)) === valueIdentity(ava.type, avaValue(ava)));
        if (!kept && ava.ber !== true) removeValue(next, ava.type, avaValue(ava));
      }
    }
    addRdnValues(next, newRdn, dn);
    checkEntry(next, newRdn, dn);
    from.children.delete(rdnId(oldRdn));
    node.parent = to;
    node.setName(joinName(newRdn, to));
    node.attributes = pack(next, this.shared);
    childrenOf(to).set(id, node);
    // The subtree's DNs follow their new ancestor (each name formatted from its RDN, as the
    // renamed entry's is).
    const stack: DirNode[] = [...node.children.values()];
    for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
      n.setName(joinName(n.rdn, n.parent));
      stack.push(...n.children.values());
    }
    return node;
  }

  /**
   * Entries in scope, lazily, parents before children, siblings in insertion order. Live: Map
   * iterators see entries added or deleted while the walk is suspended (no snapshot, as with
   * an LDAP server's paged search).
   */
  *walk(base: DirNode, scope: Scope): Generator<EntryNode> {
    const isEntry = (n: DirNode): n is EntryNode => n.attributes !== undefined;
    if (scope !== 'one' && isEntry(base)) yield base;
    if (scope === 'base') return;
    if (scope === 'one') {
      for (const child of base.children.values()) if (isEntry(child)) yield child;
      return;
    }
    const stack: Array<Iterator<DirNode>> = [base.children.values()];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const step = top?.next();
      if (step === undefined || step.done === true) {
        stack.pop();
        continue;
      }
      const n = step.value;
      if (isEntry(n)) yield n;
      if (n.children.size > 0) stack.push(n.children.values());
    }
  }
}
