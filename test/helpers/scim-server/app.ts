/** The Express app of one SCIM test server: middleware order, the token endpoint, the SCIM routes. */
import express, { type Application } from 'express';
import { authenticate, tokenEndpoint } from './auth.js';
import { BASE_PATH } from './constants.js';
import { delayRequests, handleErrors, injectFaults, notFound, recordRequests } from './middleware.js';
import { scimRouter } from './router.js';
import { scimExtras } from './scim-extras.js';
import { states, type State } from './state.js';

/** `timers` collects pending latency delays, for the listener to cancel on stop. */
export function createApp(st: State, timers: Set<NodeJS.Timeout>): Application {
  const app = express();
  states.set(app, st);
  app.disable('x-powered-by');
  // ETags are the resources' meta.version, not hashes of response bodies.
  app.set('etag', false);
  app.use(recordRequests(st));
  app.use(delayRequests(st, timers));
  app.use(injectFaults(st));
  if (st.oauth) app.post('/oauth/token', express.urlencoded({ extended: false }), tokenEndpoint(st));
  app.use(BASE_PATH, authenticate(st), scimExtras(st), scimRouter());
  app.use(notFound);
  app.use(handleErrors(st));
  return app;
}
