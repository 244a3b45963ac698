/**
 * The name both ends give an export's idempotency key. The agent names its journal file by it
 * and announces the digests of the journals it holds in `hello`; the hub pins a key to the agent
 * that ran it by the same digest. The raw key is caller-chosen text: it never becomes a file
 * name, and a digest in `hello` reveals nothing of it.
 */
import { createHash } from 'node:crypto';

/** Hex SHA-256 of (data source, key), first 32 characters (128 bits). */
export function exportKeyDigest(dataSource: string, key: string): string {
  return createHash('sha256').update(dataSource).update('\0').update(key).digest('hex').slice(0, 32);
}

/** At most this many digests travel in one `hello` (the newest journals). */
export const MAX_ANNOUNCED_EXPORT_KEYS = 1000;
