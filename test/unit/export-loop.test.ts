/**
 * The shared export loop (src/adapter-kit/export-loop.ts) with a recording writer: order, one
 * result per record, failures go on, refused records never reach `write`, per-export resources,
 * the write wrapper (the journal's seam) — and the directory scope check every LDAP-style
 * adapter plugs into it, renames included (target, new superior, new DN, the base itself in
 * any spelling).
 */
import pino from 'pino';
import { from, lastValueFrom, Observable, of, Subject, takeWhile, throwError, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { ExportResult, OperationContext } from '../../src/adapter-kit/adapter.js';
import { exportLoop, type RecordWriter } from '../../src/adapter-kit/export-loop.js';
import { checkScope, decodeRecord, type ExportRecord } from '../../src/adapters/directory/export-records.js';
import { ProtocolError } from '../../src/protocol/index.js';

const ctx: OperationContext = { requestId: 'req-1', dataSource: 'test', log: pino({ level: 'silent' }) };

interface Rec {
  readonly id: number;
  readonly fail?: string;
  readonly outside?: true;
  readonly refuse?: true;
}

/** A writer over `{id, fail?, outside?, refuse?}` records that records every call. */
function recorder(over: Partial<RecordWriter<Rec>> = {}) {
  const calls: string[] = [];
  const writer: RecordWriter<Rec> = {
    decode: (input, context) => {
      calls.push('decode');
      if (typeof input !== 'object' || input === null || typeof (input as { id?: unknown }).id !== 'number') {
        throw new ProtocolError('BAD_REQUEST', 'not a record', context);
      }
      return input as Rec;
    },
    checkScope: (r, context) => {
      calls.push(`scope ${r.id}`);
      if (r.outside) throw new ProtocolError('OPERATION_NOT_ALLOWED', `record ${r.id} is outside`, context);
    },
    checkConditions: (r) => {
      calls.push(`conditions ${r.id}`);
      return r.refuse ? throwError(() => new ProtocolError('BAD_REQUEST', `record ${r.id}: condition not supported`)) : of('ignored');
    },
    write: (r, index) => {
      calls.push(`write ${r.id}@${index}`);
      if (r.fail === 'upstream') return Promise.reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
      if (r.fail === 'bug') throw new TypeError('a bug');
      return Promise.resolve(r.id % 2 === 0 ? { written: r.id } : undefined);
    },
    toProtocolError: (err, context, index) => {
      if (err instanceof ProtocolError) return err;
      if (err instanceof TypeError) return new ProtocolError('INTERNAL', `record ${index}: internal error`, context, { cause: err });
      return new ProtocolError('UPSTREAM_UNAVAILABLE', `record ${index}: ${(err as Error).message}`, context, { retryable: true });
    },
    open: () => {
      calls.push('open');
    },
    close: () => {
      calls.push('close');
      return Promise.resolve();
    },
    ...over,
  };
  return { writer, calls };
}

const all = (o: Observable<ExportResult>): Promise<ExportResult[]> => lastValueFrom(o.pipe(toArray()));
const codes = (rs: ExportResult[]): string[] => rs.map((r) => (r.ok ? 'ok' : r.code));

describe('the loop', () => {
  it('one result per record, in order, with the write’s data; failures go on', async () => {
    const { writer, calls } = recorder();
    const results = await all(exportLoop(from([{ id: 1 }, { id: 2 }, 'junk', { id: 3, fail: 'upstream' }, { id: 4, outside: true }, { id: 5, refuse: true }, { id: 6, fail: 'bug' }, { id: 8 }]), writer, ctx));
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(codes(results)).toEqual(['ok', 'ok', 'BAD_REQUEST', 'UPSTREAM_UNAVAILABLE', 'OPERATION_NOT_ALLOWED', 'BAD_REQUEST', 'INTERNAL', 'ok']);
    expect(results[0]).toEqual({ index: 0, ok: true });
    expect(results[1]).toEqual({ index: 1, ok: true, data: { written: 2 } });
    expect(results[3]).toEqual({ index: 3, ok: false, code: 'UPSTREAM_UNAVAILABLE', message: 'record 3: socket hang up', retryable: true });
    expect(results[5]).toMatchObject({ ok: false, message: 'record 5: condition not supported', retryable: false });
    expect(calls.filter((c) => c.startsWith('write'))).toEqual(['write 1@0', 'write 2@1', 'write 3@3', 'write 6@6', 'write 8@7']);
  });

  it('a record refused by decode, scope or conditions never reaches write; the steps run in that order', async () => {
    const { writer, calls } = recorder();
    await all(exportLoop(from(['junk', { id: 1, outside: true }, { id: 2, refuse: true }, { id: 3 }]), writer, ctx));
    expect(calls).toEqual(['open', 'decode', 'decode', 'scope 1', 'decode', 'scope 2', 'conditions 2', 'decode', 'scope 3', 'conditions 3', 'write 3@3', 'close']);
  });

  it('sequential: record n+1 is decoded only after record n’s result', async () => {
    const pending: Array<(v: unknown) => void> = [];
    const { writer, calls } = recorder({ write: (r) => new Promise((resolve) => pending.push(() => resolve(r.id))) });
    const records = new Subject<unknown>();
    const results: ExportResult[] = [];
    const done = new Promise<void>((resolve, reject) => exportLoop(records, writer, ctx).subscribe({ next: (r) => results.push(r), error: reject, complete: resolve }));
    records.next({ id: 1 });
    records.next({ id: 2 });
    records.complete();
    await Promise.resolve();
    expect(calls.filter((c) => c === 'decode')).toHaveLength(1);
    expect(pending).toHaveLength(1);
    pending[0]?.(undefined);
    await new Promise((r) => setImmediate(r));
    expect(results).toEqual([{ index: 0, ok: true, data: 1 }]);
    expect(calls.filter((c) => c === 'decode')).toHaveLength(2);
    pending[1]?.(undefined);
    await done;
    expect(results.map((r) => r.index)).toEqual([0, 1]);
  });

  it('a consumer that stops inside a result’s next stops before the next write', async () => {
    const { writer, calls } = recorder();
    const results = await all(exportLoop(from([{ id: 1 }, { id: 3 }, { id: 5 }]), writer, ctx).pipe(takeWhile((r) => r.index < 1, true)));
    expect(results).toHaveLength(2);
    expect(calls.filter((c) => c.startsWith('write'))).toEqual(['write 1@0', 'write 3@1']);
    expect(calls.at(-1)).toBe('close');
  });

  it('an Observable write: its last value is the data; none is no data', async () => {
    const { writer } = recorder({ write: (r) => (r.id === 1 ? of('a', 'b') : new Observable<unknown>((s) => s.complete())) });
    expect(await all(exportLoop(from([{ id: 1 }, { id: 2 }]), writer, ctx))).toEqual([
      { index: 0, ok: true, data: 'b' },
      { index: 1, ok: true },
    ]);
  });

  it('cold; open once per subscription (a factory makes a writer per export); close once, also after an error or an unsubscribe', async () => {
    const made: Array<ReturnType<typeof recorder>> = [];
    const out = exportLoop(
      from([{ id: 1 }]),
      () => {
        const r = recorder();
        made.push(r);
        return r.writer;
      },
      ctx,
    );
    expect(made).toHaveLength(0);
    await all(out);
    await all(out);
    expect(made.map((m) => m.calls)).toEqual([
      ['open', 'decode', 'scope 1', 'conditions 1', 'write 1@0', 'close'],
      ['open', 'decode', 'scope 1', 'conditions 1', 'write 1@0', 'close'],
    ]);

    const failing = recorder();
    await expect(all(exportLoop(throwError(() => new Error('records broke')), failing.writer, ctx))).rejects.toThrow('records broke');
    expect(failing.calls).toEqual(['open', 'close']);

    const cut = recorder();
    const never = { ...cut.writer, write: (r: Rec, i: number) => (cut.calls.push(`write ${r.id}@${i}`), new Promise(() => undefined)) };
    const sub = exportLoop(of({ id: 1 }), never, ctx).subscribe();
    sub.unsubscribe();
    expect(cut.calls).toEqual(['open', 'decode', 'scope 1', 'conditions 1', 'write 1@0', 'close']);
  });

  it('open failing fails the export as a whole with the coded error; no record is taken', async () => {
    const { writer, calls } = recorder({
      open: () => {
        throw new ProtocolError('BUSY', 'too many streams', {}, { retryable: true });
      },
    });
    await expect(all(exportLoop(from([{ id: 1 }]), writer, ctx))).rejects.toMatchObject({ code: 'BUSY', retryable: true });
    expect(calls).toEqual(['close']);
    const async = recorder({ open: () => Promise.reject(new Error('load failed')) });
    await expect(all(exportLoop(from([{ id: 1 }]), async.writer, ctx))).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(async.calls).toEqual(['close']);
  });

  it('aroundWrite sees only checked records and wraps their write (the journal’s seam)', async () => {
    const { writer, calls } = recorder();
    const seen: string[] = [];
    const results = await all(
      exportLoop(from([{ id: 1 }, { id: 2, outside: true }, { id: 3 }, { id: 4, refuse: true }, { id: 5 }]), writer, ctx, {
        aroundWrite: (write, record, index) => {
          seen.push(`around ${record.id}@${index}`);
          // Record 3 is "replayed": answered without a write.
          if (record.id === 3) return of({ replayed: 3 });
          if (record.id === 5) return throwError(() => new ProtocolError('OUTCOME_UNKNOWN', 'record 4: unknown'));
          return write();
        },
      }),
    );
    expect(seen).toEqual(['around 1@0', 'around 3@2', 'around 5@4']);
    expect(calls.filter((c) => c.startsWith('write'))).toEqual(['write 1@0']);
    expect(codes(results)).toEqual(['ok', 'OPERATION_NOT_ALLOWED', 'ok', 'BAD_REQUEST', 'OUTCOME_UNKNOWN']);
    expect(results[2]).toEqual({ index: 2, ok: true, data: { replayed: 3 } });
  });
});

describe('directory scope (the ldap and ldif adapters’ checkScope)', () => {
  const BASE = 'dc=example,dc=com';

  /** Runs records through the loop with the LDAP decoder and scope check; returns codes and what was written. */
  async function run(records: unknown[], baseDN = BASE): Promise<{ codes: string[]; written: ExportRecord[] }> {
    const written: ExportRecord[] = [];
    const writer: RecordWriter<ExportRecord> = {
      decode: (input, context) => decodeRecord(input, context),
      checkScope: (record, context) => checkScope(record, baseDN, context),
      write: (record) => {
        written.push(record);
        return Promise.resolve(undefined);
      },
      toProtocolError: (err) => (err instanceof ProtocolError ? err : new ProtocolError('INTERNAL', String(err))),
    };
    return { codes: codes(await all(exportLoop(from(records), writer, ctx))), written };
  }
  const rename = (dn: string, newRdn: string, newSuperior?: string): unknown => ({ op: 'rename', dn, newRdn, ...(newSuperior === undefined ? {} : { newSuperior }) });

  it('the target of every op must lie inside the base', async () => {
    const r = await run([
      { op: 'delete', dn: `uid=a,ou=people,${BASE}` },
      { op: 'delete', dn: 'uid=a,dc=other,dc=com' },
      { op: 'add', dn: 'uid=a,dc=example,dc=comX', attributes: { cn: 'x' } },
      { op: 'modify', dn: 'dc=com', changes: [{ operation: 'delete', attribute: 'cn' }] },
      { op: 'upsert', dn: `uid=a,${BASE}`, attributes: { cn: 'x' } },
    ]);
    expect(r.codes).toEqual(['ok', 'OPERATION_NOT_ALLOWED', 'OPERATION_NOT_ALLOWED', 'OPERATION_NOT_ALLOWED', 'ok']);
    expect(r.written).toHaveLength(2);
  });

  it('a rename inside the base, in place or under a new superior inside it (the base itself included)', async () => {
    const r = await run([rename(`uid=a,ou=people,${BASE}`, 'uid=b'), rename(`uid=a,ou=people,${BASE}`, 'uid=a', `ou=archive,${BASE}`), rename(`ou=people,${BASE}`, 'ou=staff', 'DC=Example, DC=COM')]);
    expect(r.codes).toEqual(['ok', 'ok', 'ok']);
    expect(r.written).toHaveLength(3);
  });

  it.each([
    ['the target outside', rename('uid=a,dc=other,dc=com', 'uid=b')],
    ['the new superior outside', rename(`uid=a,ou=people,${BASE}`, 'uid=a', 'dc=other,dc=com')],
    ['the new superior above the base', rename(`uid=a,ou=people,${BASE}`, 'uid=a', 'dc=com')],
    ['the new superior a look-alike of the base', rename(`uid=a,ou=people,${BASE}`, 'uid=a', 'dc=example,dc=comX')],
    ['the base entry, in place (its new DN would be outside)', rename(BASE, 'dc=escaped')],
    ['the base entry, in place, as ou=escaped', rename(BASE, 'ou=escaped')],
    ['the base entry, under a new superior inside itself', rename(BASE, 'dc=escaped', `ou=people,${BASE}`)],
    ['the base entry spelled in upper case', rename('DC=EXAMPLE,DC=COM', 'dc=escaped')],
    ['the base entry spelled with spaces', rename('dc = example ,  dc=com', 'dc=escaped')],
    ['the base entry spelled with hex escapes', rename('dc=\\65xample,dc=c\\6Fm', 'dc=escaped')],
    ['the base entry spelled with an escaped letter', rename('dc=ex\\ample,dc=com', 'dc=escaped')],
  ])('refuses a rename with %s — never written', async (_what, record) => {
    const r = await run([record]);
    expect(r.codes).toEqual(['OPERATION_NOT_ALLOWED']);
    expect(r.written).toHaveLength(0);
  });

  it('a trailing escaped space is part of the value: that DN is not the base, and is outside it', async () => {
    const r = await run([rename('dc=example,dc=com\\20', 'dc=x'), rename(`uid=a,${BASE}`, 'uid=b', 'dc=example,dc=com\\20')]);
    expect(r.codes).toEqual(['OPERATION_NOT_ALLOWED', 'OPERATION_NOT_ALLOWED']);
  });

  it('renaming the base is refused whatever the base’s own spelling in the config', async () => {
    const r = await run([rename(BASE, 'dc=escaped'), rename(`ou=x,${BASE}`, 'ou=y')], 'DC=Example , dc=\\63om');
    expect(r.codes).toEqual(['OPERATION_NOT_ALLOWED', 'ok']);
  });

  it('the message says why: the base entry, or which name is outside', async () => {
    const results = await all(
      exportLoop(
        from([rename(BASE, 'dc=escaped'), rename(`uid=a,${BASE}`, 'uid=a', 'dc=other')]),
        { decode: (i, c) => decodeRecord(i, c), checkScope: (rec, c) => checkScope(rec, BASE, c), write: () => Promise.resolve(undefined), toProtocolError: (e) => e as ProtocolError },
        ctx,
      ),
    );
    expect(results.map((r) => (r.ok ? '' : r.message))).toEqual([
      `dn "${BASE}" is the data source's baseDN "${BASE}": renaming it would move the whole data source`,
      `newSuperior "dc=other" is outside the data source's baseDN "${BASE}"`,
    ]);
  });

  it('a newRdn of several RDNs is BAD_REQUEST at decode', async () => {
    const r = await run([rename(`uid=a,${BASE}`, 'uid=b,ou=c')]);
    expect(r.codes).toEqual(['BAD_REQUEST']);
  });
});
