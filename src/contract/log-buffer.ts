/**
 * The contract environment's log: the hub's and the agent's pino lines (with the product's
 * redaction) kept in memory, so a failing check can show what the agent and hub said while it
 * ran instead of printing every line of every passing check.
 */
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../log/logger.js';

/** Lines kept; older ones are dropped (a search at debug level logs a few lines per request). */
const KEPT_LINES = 2000;

export interface LogBuffer {
  readonly logger: Logger;
  /** A mark to read from: the number of lines written so far. */
  mark(): number;
  /** Lines written since `mark` at warn level or above (at most `max`, the latest). */
  problemsSince(mark: number, max?: number): string[];
}

export function logBuffer(): LogBuffer {
  const lines: string[] = [];
  let dropped = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(line);
      if (lines.length > KEPT_LINES) dropped += lines.splice(0, lines.length - KEPT_LINES).length;
      callback();
    },
  });
  return {
    logger: createLogger({ level: 'debug', name: 'contract' }, sink),
    mark: () => dropped + lines.length,
    problemsSince(mark, max = 20) {
      const from = Math.max(0, mark - dropped);
      return lines
        .slice(from)
        .filter((line) => {
          try {
            return ((JSON.parse(line) as { level?: number }).level ?? 0) >= 40;
          } catch {
            return true;
          }
        })
        .slice(-max);
    },
  };
}
