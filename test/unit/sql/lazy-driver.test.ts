/**
 * The SQL source loads its drivers only on first use: defining and creating a `type: sql`
 * adapter imports neither `pg` nor `mysql2` (an agent without SQL sources never loads them); the
 * first operation of a `dialect: postgres` source loads `pg` and only `pg`. The drivers are
 * replaced by factories that record being loaded.
 */
import pino from 'pino';
import { lastValueFrom } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';

const loaded = vi.hoisted(() => new Set<string>());

vi.mock('pg', async (importOriginal) => {
  loaded.add('pg');
  return importOriginal();
});
vi.mock('mysql2/promise', async (importOriginal) => {
  loaded.add('mysql2');
  return importOriginal();
});

const { sqlDataSource } = await import('../../../src/adapters/sql/definition.js');
const log = pino({ level: 'silent' });

describe('driver loading', () => {
  it('creating a sql adapter loads no driver; its first operation loads its dialect only', async () => {
    const adapter = sqlDataSource.create(
      'db',
      { type: 'sql', dialect: 'postgres', host: '127.0.0.1', port: 1, connectTimeoutMs: 2000, objectTypes: { u: { table: 't', key: 'id' } }, operations: ['test'] },
      log,
    );
    expect([...loaded]).toEqual([]);
    await lastValueFrom(adapter.test({ requestId: 'r1', dataSource: 'db', log })).catch(() => undefined);
    expect([...loaded]).toEqual(['pg']);
    await adapter.close();
  });
});
