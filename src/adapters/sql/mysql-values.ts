/**
 * Lossless MariaDB/MySQL values. The pool reads with `supportBigNumbers`, `bigNumberStrings`
 * and `dateStrings` (mysql2 gives big integers, decimals and date-times as the server's text)
 * and JSON parsed; this module finishes each value by its column type.
 *
 * | MariaDB / MySQL | value |
 * |---|---|
 * | `TINYINT` … `INT`, `YEAR` | number |
 * | `BIGINT`, `DECIMAL` | string (digits as the server prints them) |
 * | `DOUBLE` | number |
 * | `FLOAT` | number: the shortest decimal that is the stored 32-bit float (`1.1`, not `1.100000023841858`) |
 * | `BINARY`, `VARBINARY`, `BLOB` types, `BIT` | Buffer (base64 under `name;binary` in entries) |
 * | `JSON` | the parsed JSON |
 * | `TIMESTAMP` | ISO 8601 with offset `+00:00` (session time zone UTC), e.g. `2024-02-29T23:59:59.123456+00:00` |
 * | `DATETIME` | ISO 8601 without offset (the column has none) |
 * | `DATE`, `TIME`, text types, `ENUM`, `SET` | string as the server prints it |
 */

/** The part of mysql2's column description used here. */
export interface MysqlField {
  readonly name: string;
  readonly columnType?: number;
}

const FLOAT = 0x04;
const TIMESTAMP = 0x07;
const DATETIME = 0x0c;

/** The shortest decimal text that reads back as the same 32-bit float. */
export function shortestFloat32(value: number): number {
  if (!Number.isFinite(value)) return value;
  for (let digits = 1; digits <= 9; digits += 1) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

/** `2024-02-29 23:59:59.123456` → `2024-02-29T23:59:59.123456` (+ `+00:00` for TIMESTAMP). */
function isoDateTime(text: string, withOffset: boolean): string {
  if (!/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(text) || text.startsWith('0000-00-00')) return text;
  return `${text.replace(' ', 'T')}${withOffset ? '+00:00' : ''}`;
}

/** One value as read by mysql2 → its lossless form. */
export function mysqlValue(value: unknown, columnType: number | undefined): unknown {
  if (value === null || value === undefined) return null;
  if (columnType === FLOAT && typeof value === 'number') return shortestFloat32(value);
  if ((columnType === TIMESTAMP || columnType === DATETIME) && typeof value === 'string') return isoDateTime(value, columnType === TIMESTAMP);
  return value;
}

/** A row as read by mysql2 → its lossless form. */
export function mysqlRow(row: Readonly<Record<string, unknown>>, fields: readonly MysqlField[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) out[f.name] = mysqlValue(row[f.name], f.columnType);
  return out;
}
