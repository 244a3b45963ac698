/**
 * The hub's OpenAPI document built in process, with the routes fastify registered beside it:
 * the HTTP API is created exactly as the hub creates it (`createHttpApi`), on a server that never
 * listens and a hub that is never asked anything (building the document answers no request).
 * For the unit tests of the document and the generation of its TypeScript types.
 */
import { createServer } from 'node:http';
import pino from 'pino';
import { decodeHubConfig } from '../../../src/config/index.js';
import type { Hub } from '../../../src/hub/hub.js';
import { createHttpApi } from '../../../src/hub/http/api.js';

export interface BuiltDocument {
  readonly document: Record<string, unknown>;
  /** Every route fastify registered: method and URL pattern (`/v1/data-sources/:name/search`). */
  readonly routes: ReadonlyArray<{ readonly method: string; readonly url: string }>;
}

const CONFIG = `listen: { host: 127.0.0.1, port: 0, path: /agent }
tenants:
  t1:
    apiTokens: ['scrypt$16384$8$1$jfYfa20tuJuMN6xTn88/5Q==$GyQUaSRZtaeClvAIm1rTznoBHRn2OOOyH0QlYHtq+Y4=']
    agents: []
`;

export async function buildDocument(): Promise<BuiltDocument> {
  const config = decodeHubConfig(CONFIG, 'openapi-document.yaml', {});
  const app = createHttpApi(createServer(), {} as Hub, config, pino({ level: 'silent' }));
  const routes: Array<{ method: string; url: string }> = [];
  // The routes are registered in a plugin that loads at ready(), so this hook sees all of them.
  app.addHook('onRoute', (r) => {
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) routes.push({ method, url: r.url });
  });
  await app.ready();
  const document = structuredClone(app.swagger()) as Record<string, unknown>;
  await app.close();
  return { document, routes };
}
