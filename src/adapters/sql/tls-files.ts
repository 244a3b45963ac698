/**
 * The `tls` setting of a SQL source as Node TLS options for either driver: the CA, client
 * certificate and key read from their PEM files, and verification on unless
 * `insecureSkipVerify` says otherwise.
 */
import { readFileSync } from 'node:fs';
import type { SqlTlsConfig } from './config.js';

export interface TlsOptions {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly rejectUnauthorized: boolean;
}

export function tlsOptions(tls: SqlTlsConfig | undefined): TlsOptions | undefined {
  if (tls === undefined) return undefined;
  const read = (file: string | undefined): string | undefined => (file === undefined ? undefined : readFileSync(file, 'utf8'));
  const ca = read(tls.ca);
  const cert = read(tls.cert);
  const key = read(tls.key);
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    rejectUnauthorized: tls.insecureSkipVerify !== true,
  };
}
