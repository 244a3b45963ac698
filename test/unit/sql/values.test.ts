/**
 * The lossless value readers of the SQL source: PostgreSQL text-format parsers (per pool) and
 * the MariaDB/MySQL finishing of mysql2's values, plus the error table's SQLSTATE/errno codes.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { sqlErrorTables } from '../../../src/adapters/sql/errors.js';
import { mysqlValue, shortestFloat32 } from '../../../src/adapters/sql/mysql-values.js';
import { isoTimestamp, parseBytea, postgresTypes, type ArrayParser } from '../../../src/adapters/sql/postgres-values.js';

const types = postgresTypes((pg.types as unknown as { arrayParser: ArrayParser }).arrayParser);
const parse = (oid: number, text: string): unknown => types.getTypeParser(oid)(text);

describe('PostgreSQL values', () => {
  it('keeps big integers and numerics as text, times as ISO 8601, bytes as bytes', () => {
    expect(parse(20, '9223372036854775807')).toBe('9223372036854775807');
    expect(parse(1700, '12345678901234567890.0123456789')).toBe('12345678901234567890.0123456789');
    expect(parse(701, 'NaN')).toBe('NaN');
    expect(parse(701, '0.1')).toBe(0.1);
    expect(parse(1184, '2024-02-29 23:59:59.123456+00')).toBe('2024-02-29T23:59:59.123456+00:00');
    expect(isoTimestamp('2024-02-29 23:59:59+05:30')).toBe('2024-02-29T23:59:59+05:30');
    expect(parse(1114, '2024-02-29 23:59:59.5')).toBe('2024-02-29T23:59:59.5');
    expect(parse(1082, '2024-02-29')).toBe('2024-02-29');
    expect(parse(17, '\\xff00c328')).toEqual(Buffer.from([0xff, 0, 0xc3, 0x28]));
    expect(parseBytea('a\\\\b\\000')).toEqual(Buffer.from([0x61, 0x5c, 0x62, 0]));
    expect(parse(3802, '{"n": 1, "s": "x"}')).toEqual({ n: 1, s: 'x' });
    expect(parse(1009, '{"a,b","q\\"uote",NULL,"NULL",""}')).toEqual(['a,b', 'q"uote', null, 'NULL', '']);
    expect(parse(1016, '{9223372036854775807}')).toEqual(['9223372036854775807']);
    expect(parse(2950, 'e2d3c4b5-0000-4000-8000-000000000000')).toBe('e2d3c4b5-0000-4000-8000-000000000000');
  });
});

describe('MariaDB/MySQL values', () => {
  it('gives TIMESTAMP an offset, DATETIME none, FLOAT its shortest decimal', () => {
    expect(mysqlValue('2024-02-29 23:59:59.123456', 0x07)).toBe('2024-02-29T23:59:59.123456+00:00');
    expect(mysqlValue('2024-02-29 23:59:59', 0x0c)).toBe('2024-02-29T23:59:59');
    expect(mysqlValue('0000-00-00 00:00:00', 0x07)).toBe('0000-00-00 00:00:00');
    expect(shortestFloat32(Math.fround(1.1))).toBe(1.1);
    expect(mysqlValue(Math.fround(3.14159), 0x04)).toBe(3.14159);
    expect(mysqlValue(null, 0x07)).toBeNull();
  });
});

describe('error table', () => {
  const { read, write } = sqlErrorTables(['hunter2']);
  const pgError = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });
  const myError = (errno: number, sqlState: string, message = 'x'): Error => Object.assign(new Error(message), { errno, sqlState, code: 'ER_X' });

  it('maps SQLSTATEs and errnos to codes, deadlocks retryable, secrets scrubbed', () => {
    expect(read(pgError('28P01', 'password authentication failed: hunter2')).code).toBe('UPSTREAM_AUTH_FAILED');
    expect(read(pgError('28P01', 'password authentication failed: hunter2')).message).not.toContain('hunter2');
    expect(read(pgError('3D000')).code).toBe('NOT_FOUND');
    expect(read(myError(1146, '42S02')).code).toBe('NOT_FOUND');
    expect(write(pgError('23505')).code).toBe('ALREADY_EXISTS');
    expect(write(myError(1062, '23000')).code).toBe('ALREADY_EXISTS');
    expect(write(pgError('23514')).code).toBe('CONSTRAINT_VIOLATION');
    expect(write(myError(4025, '23000')).code).toBe('CONSTRAINT_VIOLATION');
    expect(write(pgError('22P02')).code).toBe('CONSTRAINT_VIOLATION');
    expect(read(pgError('22P02')).code).toBe('BAD_REQUEST');
    for (const e of [pgError('40P01'), pgError('40001'), myError(1213, '40001')]) {
      const p = write(e);
      expect([p.code, p.retryable]).toEqual(['UPSTREAM_ERROR', true]);
    }
    expect(read(pgError('57014')).code).toBe('TIMEOUT');
    expect(read(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).code).toBe('UPSTREAM_UNAVAILABLE');
    expect(read(new Error('Connection terminated unexpectedly')).code).toBe('UPSTREAM_UNAVAILABLE');
  });
});
