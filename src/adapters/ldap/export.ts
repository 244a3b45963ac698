/**
 * `export`: the writer of the directory records (`../directory/export-records.ts`: add /
 * modify / delete / rename / upsert) on an LDAP server, for the shared export loop
 * (`exportLoop`), which writes them one after the other on a dedicated connection, one
 * `ExportResult` per record in order. A record that fails — bad shape, outside baseDN, refused
 * by the server, connection lost — gets a failed result and the batch goes on; a lost
 * connection is re-made (with failover) for the next record.
 */
import { Attribute, Change, type Client } from 'ldapts';
import type { Observable } from 'rxjs';
import type { ExportResult, OperationContext } from '../../adapter-kit/adapter.js';
import { errorContext, exportLoop, type RecordWriter } from '../../adapter-kit/export-loop.js';
import { ProtocolError, type ProtocolErrorContext } from '../../protocol/errors.js';
import { encodeValues, writeAttributes } from '../directory/entry-write.js';
import { ldapResultCode, toProtocolError } from '../directory/errors.js';
import { checkScope, decodeRecord, type ExportRecord } from '../directory/export-records.js';
import { renameTarget } from '../directory/rename.js';
import type { LdapClientPool, Lease } from './client-pool.js';
import type { LdapDataSourceConfig } from './config.js';
import { renameEntry } from './modify-dn.js';
import { verifyRecord } from './verify.js';

/** `cn` and `cn;binary` of one record are one attribute; every option but `;binary` is kept. */
function attributesOf(map: Record<string, string[]>): Attribute[] {
  return writeAttributes(map);
}

function replaceAll(map: Record<string, string[]>): Change[] {
  return attributesOf(map).map((modification) => new Change({ operation: 'replace', modification }));
}

export interface ExportDeps {
  readonly pool: LdapClientPool;
  readonly config: LdapDataSourceConfig;
  readonly secrets: readonly string[];
}

/** The write of one checked record on `client`; resolves with the result's `data`, if any. */
async function writeRecord(client: Client, record: ExportRecord, baseDN: string): Promise<unknown> {
  switch (record.op) {
    case 'add':
      await client.add(record.dn, attributesOf(record.attributes));
      return undefined;
    case 'modify':
      await client.modify(
        record.dn,
        record.changes.map((ch) => {
          const { name, values } = encodeValues(ch.attribute, ch.values ?? []);
          return new Change({ operation: ch.operation, modification: new Attribute({ type: name, values }) });
        }),
      );
      return undefined;
    case 'delete':
      await client.del(record.dn);
      return undefined;
    case 'rename': {
      const { newRdn, newSuperior } = renameTarget(record, baseDN);
      await renameEntry(client, { dn: record.dn, newRdn, deleteOldRdn: record.deleteOldRdn ?? true, ...(newSuperior === undefined ? {} : { newSuperior }) });
      return undefined;
    }
    case 'upsert':
      try {
        await client.add(record.dn, attributesOf(record.attributes));
        return { action: 'added' };
      } catch (err) {
        if (ldapResultCode(err) !== 68) throw err;
      }
      // It exists: replace exactly the attributes given (others are left alone).
      await client.modify(record.dn, replaceAll(record.attributes));
      return { action: 'replaced' };
  }
}

/**
 * The LDAP record writer: one dedicated connection per export (a pool lease, taken when the
 * export is subscribed, BUSY beyond `maxStreams`), made on the first record that passes its
 * checks and made again (with failover) for the record after a lost connection.
 */
export function ldapWriter(deps: ExportDeps): RecordWriter<ExportRecord> {
  const { baseDN } = deps.config;
  let lease: Lease | undefined;
  const table = (err: unknown, context: ProtocolErrorContext, index?: number): ProtocolError =>
    toProtocolError(err, context, { ...(index === undefined ? {} : { operation: `export record ${index}` }), secrets: deps.secrets });
  return {
    decode: (input, context) => decodeRecord(input, context),
    checkScope: (record, context) => checkScope(record, baseDN, context),
    open: () => {
      lease = deps.pool.lease();
    },
    write: async (record, index, ctx) => {
      if (lease === undefined) throw new ProtocolError('INTERNAL', 'LDAP export wrote before its lease was taken');
      const c = await lease.connection();
      try {
        return await writeRecord(c.client, record, baseDN);
      } catch (err) {
        // The server's URL belongs in the message (which of the failover servers said it).
        throw table(err, { ...errorContext(ctx), url: c.url }, index);
      }
    },
    toProtocolError: table,
    // A journaled export found this record's intent without an outcome: read the directory back.
    verify: async (record) => {
      if (lease === undefined) throw new ProtocolError('INTERNAL', 'LDAP export verified before its lease was taken');
      const c = await lease.connection();
      return verifyRecord(c.client, record);
    },
    close: async () => {
      await lease?.release();
    },
  };
}

export function exportRecords(deps: ExportDeps, records$: Observable<unknown>, ctx: OperationContext): Observable<ExportResult> {
  return exportLoop(records$, () => ldapWriter(deps), ctx);
}
