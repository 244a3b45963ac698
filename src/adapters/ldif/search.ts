/**
 * `search` over the in-memory directory as a `PageSource`: each `pull()` walks the tree only as
 * far as one page of matches (plus one read ahead, to know whether it was the last), so a
 * stream never holds more than a page, whatever the directory's size. Same params as the ldap
 * adapter (`SearchParams`), same entry shape, same truncation rule: a `sizeLimit` that cuts the
 * result short ends the stream with `truncated: true`, never silently.
 */
import { defer, from, map, of, throwError, type Observable } from 'rxjs';
import type { OperationContext, Page, PageSource } from '../adapter.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { LdapEntry } from '../ldap/entry.js';
import { decodeOrThrow, requireWithin, SearchParams } from '../ldap/params.js';
import type { Directory, DirNode, Scope } from './directory.js';
import { selection, toEntry, type Selection } from './entry.js';
import { toProtocolError } from './errors.js';
import { compileFilter } from './filter.js';
import { parseDn, type Rdn } from '../ldap/dn.js';
import type { Attr } from './values.js';

type Entry = DirNode & { attributes: Map<string, Attr> };

/** Deleted entries lose their attributes (see `Directory.delete`). */
const isLive = (node: DirNode): boolean => node.attributes !== undefined;

export interface SearchPlan {
  readonly base: string;
  readonly baseRdns: Rdn[];
  readonly scope: Scope;
  readonly matches: (node: Entry) => boolean;
  readonly selection: Selection;
  /** 0 = no limit. */
  readonly sizeLimit: number;
  readonly pageSize: number;
}

/** Decodes and checks search params: BAD_REQUEST (shape, filter), OPERATION_NOT_ALLOWED (base outside baseDN). */
export function planSearch(params: unknown, config: { baseDN: string; pageSize: number }, context: ProtocolErrorContext = {}): SearchPlan {
  const p = decodeOrThrow(SearchParams, params, 'search parameters', context);
  const base = p.base ?? config.baseDN;
  requireWithin(base, config.baseDN, 'search base', context);
  return {
    base,
    // `\XX` escapes of bytes that are not UTF-8 name those bytes (names.ts).
    baseRdns: parseDn(base),
    scope: p.scope ?? 'sub',
    matches: compileFilter(p.filter ?? '(objectClass=*)', context),
    selection: selection(p.attributes),
    sizeLimit: p.sizeLimit ?? 0,
    // The config's pageSize caps what a caller may ask for.
    pageSize: Math.min(p.pageSize ?? config.pageSize, config.pageSize),
  };
}

/**
 * Matches of a lazy walk, read one page at a time. The one match read ahead is checked again
 * when its page is taken: the directory may have changed in between (a write from `export`).
 */
export class SearchCursor {
  private ahead: Entry | undefined;
  private done = false;

  constructor(
    private readonly walk: Iterator<Entry>,
    private readonly matches: (node: Entry) => boolean,
  ) {}

  private next(): Entry | undefined {
    for (;;) {
      const r = this.walk.next();
      if (r.done === true) {
        this.done = true;
        return undefined;
      }
      if (this.matches(r.value)) return r.value;
    }
  }

  /** Up to `n` matching nodes, and whether more follow. */
  nextPage(n: number): { nodes: Entry[]; more: boolean } {
    const nodes: Entry[] = [];
    const held = this.ahead;
    this.ahead = undefined;
    if (held !== undefined && isLive(held) && this.matches(held)) nodes.push(held);
    while (nodes.length < n && !this.done) {
      const node = this.next();
      if (node !== undefined) nodes.push(node);
    }
    if (!this.done) this.ahead = this.next();
    return { nodes, more: this.ahead !== undefined };
  }

  close(): void {
    this.done = true;
    this.ahead = undefined;
    this.walk.return?.();
  }
}

export interface SearchDeps {
  readonly directory: () => Promise<Directory>;
  readonly config: { readonly baseDN: string; readonly pageSize: number };
}

export function searchSource(deps: SearchDeps, params: unknown, ctx: OperationContext): PageSource<LdapEntry> {
  const context: ProtocolErrorContext = { requestId: ctx.requestId, dataSource: ctx.dataSource };
  let plan: SearchPlan | ProtocolError;
  try {
    plan = planSearch(params, deps.config, context);
  } catch (err) {
    plan = toProtocolError(err, context);
  }
  let cursor: SearchCursor | undefined;
  let delivered = 0;
  let finished = false;
  let closed = false;

  const finish = (page: Page<LdapEntry>): Page<LdapEntry> => {
    finished = true;
    cursor?.close();
    return page;
  };

  const nextPage = (dir: Directory, p: SearchPlan): Page<LdapEntry> => {
    if (closed) throw new ProtocolError('CANCELLED', 'search was closed', context);
    if (cursor === undefined) {
      const base = dir.lookup(p.baseRdns);
      // RFC 4511 §4.5.1: a base that does not exist is noSuchObject.
      if (base === undefined) throw new ProtocolError('NOT_FOUND', `search base ${JSON.stringify(p.base)} does not exist`, context);
      cursor = new SearchCursor(dir.walk(base, p.scope), p.matches);
    }
    const want = p.sizeLimit > 0 ? Math.min(p.pageSize, p.sizeLimit - delivered) : p.pageSize;
    const { nodes, more } = cursor.nextPage(want);
    const items = nodes.map((n) => toEntry(n, p.selection));
    delivered += items.length;
    if (!more) return finish({ items, last: true });
    // More matches exist beyond the caller's limit: say so.
    if (p.sizeLimit > 0 && delivered >= p.sizeLimit) return finish({ items, last: true, truncated: true });
    return { items, last: false };
  };

  const pull = (): Observable<Page<LdapEntry>> =>
    defer(() => {
      if (plan instanceof ProtocolError) return throwError(() => plan);
      if (closed) return throwError(() => new ProtocolError('CANCELLED', 'search was closed', context));
      if (finished) return of<Page<LdapEntry>>({ items: [], last: true });
      const p = plan;
      return from(deps.directory()).pipe(
        map((dir) => {
          try {
            return nextPage(dir, p);
          } catch (err) {
            finish({ items: [], last: true });
            throw toProtocolError(err, context, { operation: `search ${p.base}` });
          }
        }),
      );
    });

  const close = (): void => {
    if (closed) return;
    closed = true;
    cursor?.close();
    cursor = undefined;
  };

  return { pull, close };
}
