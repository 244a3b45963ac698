/**
 * `test`: connect (with failover), bind, read the root DSE (RFC 4512 §5.1) on a fresh client, so
 * the answer reflects the server now, not a pooled connection made earlier.
 */
import { defer, from, type Observable } from 'rxjs';
import type { OperationContext } from '../../adapter-kit/adapter.js';
import type { LdapClientPool } from './client-pool.js';
import type { LdapDataSourceConfig } from './config.js';
import { valuesOf } from './entry.js';
import { toProtocolError } from '../directory/errors.js';

export interface TestResult {
  readonly ok: true;
  /** The URL that answered (the first reachable of `urls`). */
  readonly url: string;
  /** Connect + bind + root DSE read, in ms. */
  readonly latencyMs: number;
  /** `anonymous` or the bind DN. */
  readonly boundAs: string;
  readonly vendorName?: string;
  readonly vendorVersion?: string;
  readonly namingContexts: string[];
  readonly subschemaSubentry?: string;
  readonly supportedControls: string[];
  readonly supportedExtensions: string[];
  readonly supportedFeatures: string[];
  readonly supportedLDAPVersion: string[];
  readonly supportedSASLMechanisms: string[];
}

export interface TestDeps {
  readonly pool: LdapClientPool;
  readonly config: LdapDataSourceConfig;
  readonly secrets: readonly string[];
}

export function testConnection(deps: TestDeps, ctx: OperationContext): Observable<TestResult> {
  return defer(() =>
    from(
      (async (): Promise<TestResult> => {
        const started = performance.now();
        const { client, url } = await deps.pool.connect();
        try {
          const { searchEntries } = await client.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['*', '+'] });
          const dse = searchEntries[0];
          const one = (name: string): { [k: string]: string } => {
            const v = valuesOf(dse, name)[0];
            return v === undefined ? {} : { [name]: v };
          };
          const result: TestResult = {
            ok: true,
            url,
            latencyMs: Math.round(performance.now() - started),
            boundAs: deps.config.bindDN ?? 'anonymous',
            ...one('vendorName'),
            ...one('vendorVersion'),
            namingContexts: valuesOf(dse, 'namingContexts'),
            ...one('subschemaSubentry'),
            supportedControls: valuesOf(dse, 'supportedControl'),
            supportedExtensions: valuesOf(dse, 'supportedExtension'),
            supportedFeatures: valuesOf(dse, 'supportedFeatures'),
            supportedLDAPVersion: valuesOf(dse, 'supportedLDAPVersion'),
            supportedSASLMechanisms: valuesOf(dse, 'supportedSASLMechanisms'),
          };
          ctx.log.debug({ url, latencyMs: result.latencyMs }, 'LDAP test succeeded');
          return result;
        } catch (err) {
          throw toProtocolError(err, { requestId: ctx.requestId, dataSource: ctx.dataSource, url }, { operation: 'read root DSE', secrets: deps.secrets });
        } finally {
          await client.unbind().catch(() => undefined);
        }
      })().catch((err: unknown) => {
        throw toProtocolError(err, { requestId: ctx.requestId, dataSource: ctx.dataSource }, { secrets: deps.secrets });
      }),
    ),
  );
}
