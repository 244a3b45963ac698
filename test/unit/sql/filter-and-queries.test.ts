/**
 * The pure parts of the SQL source: the LDAP-syntax filter parser, the statements built from it
 * (identifiers only from the mapping, quoted; every value a bound parameter; LIKE wildcards
 * escaped), and the settings codec's refusals.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeOrThrow, isProtocolError } from '../../../src/adapter-kit/index.js';
import { describeSqlTarget, SqlSettings, type SqlConfig } from '../../../src/adapters/sql/config.js';
import { mysqlDialect, postgresDialect, quoteMysql, quotePostgres } from '../../../src/adapters/sql/dialect.js';
import { parseFilter } from '../../../src/adapters/sql/filter-parse.js';
import { AttributeIndex, mappingsOf } from '../../../src/adapters/sql/mapping.js';
import { childStatement, getStatement, pageStatement } from '../../../src/adapters/sql/queries.js';

const pg = postgresDialect(quotePostgres);
const my = mysqlDialect(quoteMysql);

const config = decodeOrThrow(
  SqlSettings,
  {
    type: 'sql',
    dialect: 'postgres',
    host: 'db',
    objectTypes: {
      users: {
        table: 'hr.people',
        key: 'id',
        attributes: { uid: 'login', cn: 'display name' },
        multiValued: { groups: { table: 'members', foreignKey: 'person_id', column: 'group_id' }, nick: { arrayColumn: 'nicknames' } },
      },
    },
  },
  'settings',
) as SqlConfig;
const index = new AttributeIndex(mappingsOf(config).get('users')!, []);

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    return isProtocolError(err) ? err.code : `not coded: ${String(err)}`;
  }
  return 'no error';
};

describe('parseFilter', () => {
  it('parses and/or/not, presence, ranges, substrings and hex escapes', () => {
    expect(parseFilter('(&(uid=a\\2a\\28b)(|(cn=x*y*z)(groups>=3))(!(nick=*)))')).toEqual({
      kind: 'and',
      children: [
        { kind: 'eq', attribute: 'uid', value: 'a*(b' },
        { kind: 'or', children: [{ kind: 'substring', attribute: 'cn', initial: 'x', any: ['y'], final: 'z' }, { kind: 'ge', attribute: 'groups', value: '3' }] },
        { kind: 'not', child: { kind: 'present', attribute: 'nick' } },
      ],
    });
    expect(parseFilter('uid=ada')).toEqual({ kind: 'eq', attribute: 'uid', value: 'ada' });
    expect(parseFilter('(cn=\\c3\\a9)')).toEqual({ kind: 'eq', attribute: 'cn', value: 'é' });
  });

  it('refuses malformed filters, approximate and extensible match with BAD_REQUEST', () => {
    for (const f of ['', '(uid=a', '(uid=a))', '(&(uid=a)', '(uid~=a)', '(uid:dn:=a)', '(u(id=a)', '(uid=a\\zz)', '(=a)', `${'(!'.repeat(70)}(a=b)${')'.repeat(70)}`]) {
      expect(codeOf(() => parseFilter(f)), f).toBe('BAD_REQUEST');
    }
  });
});

describe('statements', () => {
  it('binds every value and quotes mapped columns (postgres)', () => {
    const s = pageStatement(pg, index, parseFilter("(&(uid=o'b\"r)(cn=50%_off!*)(groups=3)(nick=x))"), '42', 100, {});
    expect(s.text).toBe(
      'SELECT s."id", s."nicknames", s."login", s."display name" FROM "hr"."people" AS s WHERE ' +
        `(s."login" = $1 AND CAST(s."display name" AS text) LIKE $2 ESCAPE '!' AND EXISTS (SELECT 1 FROM "members" AS c WHERE c."person_id" = s."id" AND c."group_id" = $3) AND EXISTS (SELECT 1 FROM unnest(s."nicknames") AS e(v) WHERE e.v = $4))` +
        ' AND s."id" > $5 ORDER BY s."id" LIMIT 100',
    );
    expect(s.values).toEqual([`o'b"r`, '50!%!_off!!%', '3', 'x', '42']);
  });

  it('uses ? placeholders, backquotes and JSON_TABLE (mysql); NOT keeps rows without the attribute', () => {
    const s = pageStatement(my, index, parseFilter('(!(nick=a*))'), undefined, 10, {});
    expect(s.text).toBe(
      "SELECT s.`id`, s.`nicknames`, s.`login`, s.`display name` FROM `hr`.`people` AS s WHERE ((EXISTS (SELECT 1 FROM JSON_TABLE(s.`nicknames`, '$[*]' COLUMNS (v LONGTEXT PATH '$')) AS e WHERE CAST(e.v AS CHAR) LIKE ? ESCAPE '!')) IS NOT TRUE) ORDER BY s.`id` LIMIT 10",
    );
    expect(s.values).toEqual(['a%']);
    expect(getStatement(my, index, '7').text).toBe('SELECT s.`id`, s.`nicknames`, s.`login`, s.`display name` FROM `hr`.`people` AS s WHERE s.`id` = ?');
    expect(childStatement(pg, { table: 'members', foreignKey: 'person_id', column: 'group_id' }, ['1', '2']).text).toContain('IN ($1, $2)');
  });

  it('refuses attributes the mapping does not name (case-insensitive lookup of those it does)', () => {
    expect(pageStatement(pg, index, parseFilter('(UID=a)'), undefined, 10, {}).values).toEqual(['a']);
    for (const f of ['(login=a)', '(id=1)', '(uid;binary=a)', '(nosuch=*)']) expect(codeOf(() => pageStatement(pg, index, parseFilter(f), undefined, 10, {})), f).toBe('BAD_REQUEST');
  });

  it('never writes a filter value into the SQL text (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (value) => {
        const escaped = [...Buffer.from(value, 'utf8')].map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('');
        for (const dialect of [pg, my]) {
          const s = pageStatement(dialect, index, parseFilter(`(|(uid=${escaped})(cn=*${escaped}*)(groups<=${escaped}))`), value, 5, {});
          expect(s.values[0]).toBe(value);
          expect(s.text).toBe(pageStatement(dialect, index, parseFilter('(|(uid=x)(cn=*x*)(groups<=x))'), 'x', 5, {}).text);
        }
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});

describe('settings', () => {
  const decode = (extra: Record<string, unknown>): string => {
    try {
      decodeOrThrow(SqlSettings, { type: 'sql', dialect: 'postgres', host: 'db', objectTypes: { u: { table: 't', key: 'id' } }, ...extra }, 'settings');
      return 'ok';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it('refuses a writable query, both table and query, url with host, a mismatched URL scheme, a typo', () => {
    expect(decode({})).toBe('ok');
    expect(decode({ objectTypes: { u: { query: 'DELETE FROM t', key: 'id' } } })).toMatch(/read-only SELECT/);
    expect(decode({ objectTypes: { u: { query: 'SELECT 1; DROP TABLE t', key: 'id' } } })).toMatch(/one statement/);
    expect(decode({ objectTypes: { u: { table: 't', query: 'SELECT 1', key: 'id' } } })).toMatch(/exactly one of/);
    expect(decode({ url: 'postgres://u@h/db' })).toMatch(/'host' and 'url'/);
    expect(decode({ host: undefined, url: 'mysql://u@h/db' })).toMatch(/postgres: or postgresql:/);
    expect(decode({ pagesize: 10 })).toMatch(/did you mean 'pageSize'/);
  });

  it('masks the URL password in the target line', () => {
    const c = decodeOrThrow(SqlSettings, { type: 'sql', dialect: 'mysql', url: 'mysql://agent:s3cr%40t@db:3306/hr', objectTypes: { u: { table: 't', key: 'id' } } }, 'settings') as SqlConfig;
    expect(describeSqlTarget(c)).toBe('mysql://agent:***@db:3306/hr, object types u');
  });
});
