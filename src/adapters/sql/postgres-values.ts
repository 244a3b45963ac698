/**
 * Lossless PostgreSQL values: the text-format type parsers one pool's clients use (per client,
 * never pg's global registry, so another user of `pg` in the process is not affected).
 *
 * | PostgreSQL | value |
 * |---|---|
 * | `smallint`, `integer`, `oid` | number |
 * | `bigint`, `numeric` | string (digits as the server prints them) |
 * | `real`, `double precision` | number; `NaN`, `Infinity`, `-Infinity` as strings |
 * | `boolean` | boolean |
 * | `bytea` | Buffer (base64 under `name;binary` in entries) |
 * | `json`, `jsonb` | the parsed JSON |
 * | `timestamptz` | ISO 8601 with offset, e.g. `2024-02-29T23:59:59.123456+00:00` (session time zone UTC) |
 * | `timestamp` | ISO 8601 without offset (the column has none), e.g. `2024-02-29T23:59:59.123456` |
 * | `date`, `time`, `timetz`, `interval`, `uuid`, text types, anything else | string as the server prints it |
 * | arrays of the above | arrays of the element values |
 */

/** pg's array literal parser (`pg.types.arrayParser`), handed in with the driver. */
export type ArrayParser = { create(text: string, transform: (element: string) => unknown): { parse(): unknown[] } };
type Parse = (text: string) => unknown;

const identity: Parse = (text) => text;
const integer: Parse = (text) => parseInt(text, 10);
const float: Parse = (text) => {
  const n = Number(text);
  return Number.isFinite(n) ? n : text;
};
const bool: Parse = (text) => text === 't' || text === 'true';
const json: Parse = (text) => JSON.parse(text) as unknown;

/** `2024-02-29 23:59:59.123456+00` → `2024-02-29T23:59:59.123456+00:00` (offsets with minutes kept). */
export function isoTimestamp(text: string): string {
  if (text === 'infinity' || text === '-infinity') return text;
  const m = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)(?:([+-]\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/.exec(text);
  if (m === null) return text;
  const [, date, time, hours, minutes, seconds, bc] = m;
  const offset = hours === undefined ? '' : `${hours}:${minutes ?? '00'}${seconds === undefined ? '' : `:${seconds}`}`;
  return `${date}T${time}${offset}${bc ?? ''}`;
}

/** bytea in hex output (`\x…`, the default since 9.0) or escape format. */
export function parseBytea(text: string): Buffer {
  if (text.startsWith('\\x')) return Buffer.from(text.slice(2), 'hex');
  const bytes: number[] = [];
  for (let i = 0; i < text.length; ) {
    if (text[i] === '\\' && text[i + 1] === '\\') {
      bytes.push(0x5c);
      i += 2;
    } else if (text[i] === '\\') {
      bytes.push(parseInt(text.slice(i + 1, i + 4), 8));
      i += 4;
    } else {
      bytes.push(text.charCodeAt(i));
      i += 1;
    }
  }
  return Buffer.from(bytes);
}

const SCALARS: ReadonlyMap<number, Parse> = new Map<number, Parse>([
  [16, bool],
  [17, parseBytea],
  [21, integer],
  [23, integer],
  [26, integer],
  [114, json],
  [700, float],
  [701, float],
  [1114, isoTimestamp],
  [1184, isoTimestamp],
  [3802, json],
]);

/** Array type OID → its element type OID (pg_type.typelem). */
const ARRAYS: ReadonlyMap<number, number> = new Map([
  [1000, 16],
  [1001, 17],
  [1005, 21],
  [1007, 23],
  [1016, 20],
  [1021, 700],
  [1022, 701],
  [1231, 1700],
  [1009, 25],
  [1015, 1043],
  [1014, 1042],
  [2951, 2950],
  [1115, 1114],
  [1185, 1184],
  [1182, 1082],
  [199, 114],
  [3807, 3802],
  [1183, 1083],
  [1270, 1266],
  [1187, 1186],
]);

/** The `types` option of a pg pool: its own parsers for text-format results. */
export function postgresTypes(arrayParser: ArrayParser): { getTypeParser: (oid: number, format?: string) => Parse } {
  const scalar = (oid: number): Parse => SCALARS.get(oid) ?? identity;
  return {
    getTypeParser(oid: number, format?: string): Parse {
      if (format === 'binary') return identity;
      const element = ARRAYS.get(oid);
      if (element !== undefined) {
        const each = scalar(element);
        return (text) => arrayParser.create(text, each).parse();
      }
      return scalar(oid);
    },
  };
}
