/**
 * The in-memory directory: a tree of entries under `baseDN`, children keyed by normalised RDN,
 * and the write operations of RFC 4511 (add §4.7, modify §4.6, delete §4.8, modify DN §4.9)
 * with their result codes. Failures are ldapts `ResultCodeError`s, so they go through the one
 * LDAP result-code table of the ldap adapter (`src/adapters/ldap/errors.ts`) and report exactly
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
import { formatRdn, isWithin, parseDn, type Rdn } from '../ldap/dn.js';
import { attributeKey, rdnId, valueIdentity, withoutBinaryOption, type Attr, type Value } from './values.js';

export { dnId, rdnId } from './values.js';

export interface DirNode {
  rdn: Rdn;
  /** Key of `rdn` in the parent's `children`. */
  id: string;
  /** DN as written when the entry was added (recomputed for a renamed subtree). */
  dn: string;
  parent: DirNode | undefined;
  readonly children: Map<string, DirNode>;
  /** `undefined` only for the base when the files hold no entry for it (a bare naming context). */
  attributes: Map<string, Attr> | undefined;
}

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

const show = (v: Value): string => (Buffer.isBuffer(v) ? `<${v.length} bytes>` : JSON.stringify(v));

function clone(attributes: Map<string, Attr>): Map<string, Attr> {
  return new Map([...attributes].map(([k, a]) => [k, { name: a.name, values: [...a.values], keys: [...a.keys] }]));
}

/** Adds values to an attribute (creating it); a value already there is attributeOrValueExists (20). */
function addValues(attributes: Map<string, Attr>, name: string, values: readonly Value[], dn: string): void {
  const key = attributeKey(name);
  if (key === 'dn') throw new UndefinedTypeError(`'dn' is not an attribute (entry ${dn})`);
  const attr = attributes.get(key) ?? { name: withoutBinaryOption(name), values: [], keys: [] };
  const seen = new Set(attr.keys);
  for (const v of values) {
    const id = valueIdentity(name, v);
    if (seen.has(id)) throw new TypeOrValueExistsError(`${name}: value ${show(v)} is already in ${dn}`);
    seen.add(id);
    attr.values.push(v);
    attr.keys.push(id);
  }
  if (attr.values.length > 0) attributes.set(key, attr);
}

/** Removes one value; false if it is not there. */
function removeValue(attributes: Map<string, Attr>, name: string, value: Value): boolean {
  const key = attributeKey(name);
  const attr = attributes.get(key);
  const i = attr === undefined ? -1 : attr.keys.indexOf(valueIdentity(name, value));
  if (attr === undefined || i === -1) return false;
  attr.values.splice(i, 1);
  attr.keys.splice(i, 1);
  if (attr.values.length === 0) attributes.delete(key);
  return true;
}

function hasValue(attributes: Map<string, Attr>, name: string, value: Value): boolean {
  return attributes.get(attributeKey(name))?.keys.includes(valueIdentity(name, value)) ?? false;
}

/** RFC 4511 §4.7: an entry holds its RDN's values ("along with those from the RDN"). */
function addRdnValues(attributes: Map<string, Attr>, rdn: Rdn, dn: string): void {
  for (const ava of rdn) if (ava.ber !== true && !hasValue(attributes, ava.type, ava.value)) addValues(attributes, ava.type, [ava.value], dn);
}

function checkEntry(attributes: Map<string, Attr>, rdn: Rdn, dn: string): void {
  if ((attributes.get('objectclass')?.values.length ?? 0) === 0) throw new ObjectClassViolationError(`${dn}: an entry needs an objectClass`);
  for (const ava of rdn) {
    if (ava.ber !== true && !hasValue(attributes, ava.type, ava.value)) {
      throw new NotAllowedOnRDNError(`${dn}: ${ava.type} value ${JSON.stringify(ava.value)} is the entry's RDN and cannot be removed (rename the entry instead)`);
    }
  }
}

function joinDn(rdn: Rdn, parentDn: string): string {
  return parentDn === '' ? formatRdn(rdn) : `${formatRdn(rdn)},${parentDn}`;
}

export class Directory {
  readonly root: DirNode;
  private readonly baseRdns: Rdn[];
  private count = 0;

  constructor(readonly baseDN: string) {
    this.baseRdns = parseDn(baseDN);
    const rdn = this.baseRdns[0] ?? [];
    this.root = { rdn, id: rdnId(rdn), dn: baseDN, parent: undefined, children: new Map(), attributes: undefined };
  }

  /** Number of entries. */
  get size(): number {
    return this.count;
  }

  /** The node of a DN inside the base (the base may have no entry); `undefined` if absent or outside. */
  lookup(rdns: readonly Rdn[]): DirNode | undefined {
    if (!isWithin([...rdns], this.baseRdns)) return undefined;
    let node: DirNode | undefined = this.root;
    for (let i = rdns.length - this.baseRdns.length - 1; i >= 0 && node !== undefined; i--) {
      node = node.children.get(rdnId(rdns[i] ?? []));
    }
    return node;
  }

  /** The node of an existing entry. */
  entry(rdns: readonly Rdn[]): (DirNode & { attributes: Map<string, Attr> }) | undefined {
    const node = this.lookup(rdns);
    return node?.attributes === undefined ? undefined : (node as DirNode & { attributes: Map<string, Attr> });
  }

  private existing(rdns: readonly Rdn[], dn: string): DirNode & { attributes: Map<string, Attr> } {
    const node = this.entry(rdns);
    if (node === undefined) throw new NoSuchObjectError(`no entry ${JSON.stringify(dn)}`);
    return node;
  }

  /** Adds an entry; its parent must exist (the base counts even without an entry). */
  add(dn: string, rdns: readonly Rdn[], attributes: readonly AttributeInput[]): DirNode {
    if (rdns.length === 0) throw new NamingViolationError('the root DSE (empty DN) is not an entry that can be added');
    if (!isWithin([...rdns], this.baseRdns)) throw new NoSuchObjectError(`${JSON.stringify(dn)} is not inside ${JSON.stringify(this.baseDN)}`);
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
      node.dn = dn;
    } else {
      node = { rdn, id: rdnId(rdn), dn, parent, children: new Map(), attributes: undefined };
      parent.children.set(node.id, node);
    }
    node.attributes = map;
    this.count++;
    return node;
  }

  /** Applies changes in order, atomically (RFC 4511 §4.6). */
  modify(dn: string, rdns: readonly Rdn[], changes: readonly ChangeInput[]): void {
    const node = this.existing(rdns, dn);
    const next = clone(node.attributes);
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
    node.attributes = next;
  }

  /** Deletes a leaf entry (RFC 4511 §4.8: notAllowedOnNonLeaf otherwise). */
  delete(dn: string, rdns: readonly Rdn[]): void {
    const node = this.existing(rdns, dn);
    if (node.children.size > 0) throw new NotAllowedOnNonLeafError(`${dn} has ${node.children.size} entries below it; delete them first`);
    node.parent?.children.delete(node.id);
    // Also tells a search holding this node (read ahead) that it is gone.
    const gone: DirNode = node;
    gone.attributes = undefined;
    this.count--;
  }

  /**
   * Modify DN (RFC 4511 §4.9): new RDN, optionally a new parent; the subtree moves along.
   * The caller has checked that the new DN lies inside the base.
   */
  rename(dn: string, rdns: readonly Rdn[], newRdn: Rdn, newSuperior: readonly Rdn[] | undefined, deleteOldRdn: boolean): DirNode {
    const node = this.existing(rdns, dn);
    const from = node.parent;
    if (from === undefined) throw new NamingViolationError(`${dn} is the base of the data source and cannot be renamed`);
    const to = newSuperior === undefined ? from : this.lookup(newSuperior);
    if (to === undefined) throw new NoSuchObjectError(`new superior of ${dn} does not exist`);
    for (let p: DirNode | undefined = to; p !== undefined; p = p.parent) {
      if (p === node) throw new NamingViolationError(`cannot move ${dn} below itself`);
    }
    const id = rdnId(newRdn);
    const clash = to.children.get(id);
    if (clash !== undefined && clash !== node) throw new AlreadyExistsError(`entry ${JSON.stringify(joinDn(newRdn, to.dn))} already exists`);
    const next = clone(node.attributes);
    if (deleteOldRdn) {
      for (const ava of node.rdn) {
        const kept = newRdn.some((n) => attributeKey(n.type) === attributeKey(ava.type) && valueIdentity(n.type, n.value) === valueIdentity(ava.type, ava.value));
        if (!kept && ava.ber !== true) removeValue(next, ava.type, ava.value);
      }
    }
    addRdnValues(next, newRdn, dn);
    checkEntry(next, newRdn, dn);
    from.children.delete(node.id);
    node.rdn = newRdn;
    node.id = id;
    node.parent = to;
    node.attributes = next;
    to.children.set(id, node);
    // The subtree's DNs follow their new ancestor.
    const stack: DirNode[] = [node];
    for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
      n.dn = joinDn(n.rdn, n.parent?.dn ?? '');
      stack.push(...n.children.values());
    }
    return node;
  }

  /**
   * Entries in scope, lazily, parents before children, siblings in insertion order. Live: Map
   * iterators see entries added or deleted while the walk is suspended (no snapshot, as with
   * an LDAP server's paged search).
   */
  *walk(base: DirNode, scope: Scope): Generator<DirNode & { attributes: Map<string, Attr> }> {
    const isEntry = (n: DirNode): n is DirNode & { attributes: Map<string, Attr> } => n.attributes !== undefined;
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
