/**
 * `get`: one entry by DN (a base-scope search on a shared client), its JSON written by the
 * streaming transcoder as for search pages (`entry-batch.ts`). NOT_FOUND when the server
 * says noSuchObject or returns nothing (OpenLDAP answers noSuchObject for entries its ACLs hide).
 * The target is `dn` or `dn;binary` (`GetParams` turns the bytes into the equivalent escaped DN
 * string, which is checked against baseDN like any other and sent as the search base).
 */
import { defer, from, type Observable } from 'rxjs';
import type { OperationContext } from '../../adapter-kit/adapter.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import type { LdapClientPool } from './client-pool.js';
import type { LdapDataSourceConfig } from './config.js';
import { EntryBatchWriter } from './entry-batch.js';
import type { LdapEntry } from '../directory/entry.js';
import { toProtocolError } from '../directory/errors.js';
import { decodeGetParams, requireParsedWithin } from '../directory/params.js';

export interface GetDeps {
  readonly pool: LdapClientPool;
  readonly config: LdapDataSourceConfig;
  readonly secrets: readonly string[];
}

export function getEntry(deps: GetDeps, params: unknown, ctx: OperationContext): Observable<LdapEntry> {
  return defer(() => {
    const context: ProtocolErrorContext = { requestId: ctx.requestId, dataSource: ctx.dataSource };
    const p = decodeGetParams(params, context);
    requireParsedWithin(p.dn, p.rdns, deps.config.baseDN, 'dn', context);
    return from(
      deps.pool.withShared(async ({ client, url, entryDecoder }) => {
        try {
          // The entry's JSON written while it is parsed, by the same transcoder as search's pages.
          const sink = new EntryBatchWriter(4096);
          const { searchEntries } = await client.search(p.dn, {
            scope: 'base',
            filter: '(objectClass=*)',
            ...(p.attributes === undefined ? {} : { attributes: p.attributes }),
            explicitBufferAttributes: sink.attributes,
          });
          // Written while parsed; or, the entry decoder off (ldapts-internals.ts), from ldapts' entry.
          const found = sink.takePage(searchEntries, entryDecoder);
          if (found.count === 0) throw new ProtocolError('NOT_FOUND', `${url}: no entry ${JSON.stringify(p.dn)}`, { ...context, url });
          return JSON.parse(found.text(0)) as LdapEntry;
        } catch (err) {
          throw toProtocolError(err, { ...context, url }, { operation: `get ${p.dn}`, secrets: deps.secrets });
        }
      }),
    );
  });
}
