/**
 * Key and trust stores are checked while the configuration is loaded, so a JKS file, a wrong
 * store password or an unreadable file is reported as `FILE:LINE:COL: agent.keyStore: …` by
 * `check` and at start — not discovered at the first connection attempt.
 */
import { loadClientTls, TlsStoreError } from '../support/tls-stores.js';
import type { PathProblem } from './problems.js';

interface StoreSettings {
  readonly agent: {
    readonly keyStore?: string;
    readonly keyStorePassword?: string;
    readonly privateKey?: string;
    readonly trustStore?: string;
    readonly trustStorePassword?: string;
  };
}

export function checkAgentStores(cfg: StoreSettings): PathProblem[] {
  const a = cfg.agent;
  const problems: PathProblem[] = [];
  const attempt = (key: 'keyStore' | 'trustStore', input: Parameters<typeof loadClientTls>[0]): void => {
    try {
      loadClientTls(input);
    } catch (err) {
      if (!(err instanceof TlsStoreError)) throw err;
      const path =
        err.code === 'KEYSTORE_NO_KEY' && a.privateKey !== undefined
          ? ['agent', 'privateKey']
          : err.code === 'KEYSTORE_BAD_PASSWORD' && a.keyStorePassword !== undefined
            ? ['agent', 'keyStorePassword']
            : ['agent', key];
      // One problem per line (FILE:LINE:COL: …), so editors and CI annotations can parse it.
      problems.push({ path, message: err.message.replace(/\s*\n\s*/g, ' ') });
    }
  };
  if (a.keyStore !== undefined) {
    attempt('keyStore', {
      keyStore: a.keyStore,
      ...(a.keyStorePassword !== undefined ? { keyStorePassword: a.keyStorePassword } : {}),
      ...(a.privateKey !== undefined ? { privateKey: a.privateKey } : {}),
    });
  }
  if (a.trustStore !== undefined) {
    attempt('trustStore', {
      trustStore: a.trustStore,
      ...(a.trustStorePassword !== undefined ? { trustStorePassword: a.trustStorePassword } : {}),
    });
  }
  return problems;
}
