import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../src/log/logger.js';
import { captureLogs } from '../../helpers/log-capture.js';

const dir = mkdtempSync(join(tmpdir(), 'datasync-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('logger', () => {
  it('redacts secrets by key at every depth we log at, and Authorization headers', () => {
    const { logger, text } = captureLogs();
    logger.info(
      {
        password: 's1',
        agent: { password: 's2', keyStorePassword: 's3', trustStorePassword: 's4' },
        config: { dataSources: { x: { bindPassword: 's5', bearerToken: 's6', clientSecret: 's7' } } },
        headers: { authorization: 'Basic s8', 'proxy-authorization': 'Basic s9' },
      },
      'with secrets',
    );
    const out = text();
    for (const s of ['s1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9']) expect(out).not.toContain(`"${s}"`);
    expect(out.match(/\[REDACTED\]/g)?.length).toBeGreaterThanOrEqual(8);
  });

  it('children inherit the redaction', () => {
    const { logger, text } = captureLogs();
    logger.child({ component: 'connection' }).warn({ password: 'child-secret' }, 'x');
    expect(text()).not.toContain('child-secret');
    expect(text()).toContain('"component":"connection"');
  });

  it('writes to a rolling file when logging.file is set', async () => {
    const file = join(dir, 'agent.log');
    const logger = createLogger({ level: 'info', file });
    logger.info({ password: 'file-secret' }, 'to file');
    await vi.waitFor(
      () => {
        const files = readdirSync(dir).filter((f) => f.startsWith('agent.'));
        expect(files.length).toBe(1);
        const content = readFileSync(join(dir, files[0]!), 'utf8');
        expect(content).toContain('"msg":"to file"');
        expect(content).not.toContain('file-secret');
      },
      { timeout: 30_000 },
    );
  });
});
