/**
 * A pino logger for marble tests that keeps each line as a parsed record, with no `pid`,
 * `hostname` or `time` (virtual time has no wall clock worth comparing), so a test can compare
 * whole records.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';

export function logRecords(level: pino.Level = 'debug'): { log: pino.Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l) records.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level, base: null, timestamp: false }, sink), records };
}
