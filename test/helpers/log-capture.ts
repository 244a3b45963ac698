import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../src/log/logger.js';
import { auditLogLine } from './log-audit.js';

/** A real pino logger (with the product's redaction) writing into memory, for assertions. */
export interface LogCapture {
  readonly logger: Logger;
  readonly lines: string[];
  /** Parsed JSON records. */
  records(): Array<Record<string, unknown>>;
  text(): string;
}

export function captureLogs(level: 'trace' | 'debug' | 'info' = 'trace'): LogCapture {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        lines.push(line);
        auditLogLine(line);
      }
      cb();
    },
  });
  const logger = createLogger({ level }, sink);
  return {
    logger,
    lines,
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => lines.join('\n'),
  };
}
