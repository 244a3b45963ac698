/**
 * The names of settings whose values are secrets, at any depth: the built-in ones and those
 * each data-source type declares (`secretKeys`). One registry read by the logger's redaction,
 * by `check`'s output and by the io-ts problem messages — a neutral leaf, so that the
 * protocol, the configuration and the log can all use it without importing each other.
 */

const secretKeys = new Set<string>([
  'password',
  'keyStorePassword',
  'trustStorePassword',
  'bindPassword',
  'bearerToken',
  'clientSecret',
  'passwordHash',
  'apiTokens',
]);

/**
 * Keys whose values are never printed, at any depth: the built-in ones and those each data-source
 * type declares (`secretKeys`). Read when a logger is created: plugins are loaded before.
 */
export const SECRET_KEYS: ReadonlySet<string> = secretKeys;

/** Adds setting names whose values are secrets (a data-source type's `secretKeys`). */
export function addSecretKeys(keys: Iterable<string>): void {
  for (const key of keys) if (typeof key === 'string' && key !== '') secretKeys.add(key);
}

export function isSecretPath(path: readonly string[]): boolean {
  return path.some((key) => SECRET_KEYS.has(key));
}
