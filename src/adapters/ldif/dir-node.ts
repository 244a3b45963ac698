/**
 * A node of the in-memory directory's tree: an entry (or the base without one), its children by
 * RDN identity and its attributes (flat-attributes.ts). Kept small, as there is one per entry:
 * the name is stored as the part in front of the parent's DN when it was written so, and the
 * RDN and its identity are parsed from it when a write needs them.
 */
import { parseDn, type Rdn } from '../directory/dn.js';
import type { FlatAttributes } from './flat-attributes.js';
import type { DirName } from './names.js';
import { rdnId } from './values.js';

/**
 * An entry of the tree (or the base without an entry). Its name is kept as the part in front of
 * its parent's name (`uid=jdoe` under `ou=people,dc=example,dc=com`) whenever it was written so,
 * and computed on demand: a directory does not hold every ancestor's name again in every DN.
 */
export class DirNode {
  /**
   * The name as written when the entry was added (recomputed for a renamed subtree): only the
   * part before `,` + the parent's DN when `own` is false, the whole DN when it is true. When the
   * name is not UTF-8, its `\XX`-escaped form (see names.ts), always whole.
   */
  private name: string;
  private own: boolean;
  /** The name's exact bytes, when they are not valid UTF-8. */
  dnBytes: Buffer | undefined;
  parent: DirNode | undefined;
  /** Entries below, by RDN identity; leaves share one empty map (`NO_CHILDREN`) until they get a child. */
  children: Map<string, DirNode>;
  /** Flat (flat-attributes.ts); `undefined` only for the base without an entry and for a deleted entry. */
  attributes: FlatAttributes | undefined;

  constructor(name: DirName, parent: DirNode | undefined) {
    this.name = '';
    this.own = true;
    this.dnBytes = undefined;
    this.parent = parent;
    this.children = NO_CHILDREN;
    this.attributes = undefined;
    this.setName(name);
  }

  /** The DN as written (`\XX` escapes for bytes that are not UTF-8). */
  get dn(): string {
    return this.own || this.parent === undefined ? this.name : `${this.name},${this.parent.dn}`;
  }

  /** The first RDN, parsed (writes only: parsing costs a few microseconds). */
  get rdn(): Rdn {
    return parseDn(this.name)[0] ?? [];
  }

  /** Key in the parent's `children`. */
  get id(): string {
    return rdnId(this.rdn);
  }

  /** Stores `name`, as the part in front of the parent's DN when it ends with it. */
  setName(name: DirName): void {
    this.dnBytes = name.binary;
    const parent = this.parent;
    const dn = name.dn;
    if (name.binary === undefined && parent !== undefined && parent.dnBytes === undefined) {
      const suffix = parent.dn;
      const cut = dn.length - suffix.length - 1;
      // A backslash in front could make the comma part of a value: such names stay whole.
      if (suffix !== '' && cut > 0 && dn.charCodeAt(cut) === 0x2c && dn.endsWith(suffix) && !dn.includes('\\')) {
        this.name = ownCopy(dn.slice(0, cut));
        this.own = false;
        return;
      }
    }
    this.name = dn;
    this.own = true;
  }
}

/**
 * A string that does not hold on to the one it was cut from (V8 keeps a slice of 13 or more
 * characters as a view of the whole). Round-trips through UTF-8 only when that is lossless.
 */
const SURROGATE = /[\uD800-\uDFFF]/;
function ownCopy(s: string): string {
  return s.length < 13 || SURROGATE.test(s) ? s : Buffer.from(s, 'utf8').toString('utf8');
}

/** The children of every leaf: an empty map that refuses to be written (see `childrenOf`). */
class NoChildren extends Map<string, DirNode> {
  override set(): never {
    throw new Error('NO_CHILDREN is shared by every leaf: add children through childrenOf()');
  }
}
const NO_CHILDREN: Map<string, DirNode> = new NoChildren();

/** A node that is an entry (has attributes). */
export type EntryNode = DirNode & { attributes: FlatAttributes };

/** A node's own children map, created when it gets its first child. */
export function childrenOf(node: DirNode): Map<string, DirNode> {
  if (node.children === NO_CHILDREN) node.children = new Map();
  return node.children;
}
