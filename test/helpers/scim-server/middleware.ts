/** Express middleware around the SCIM routes: request recording, latency, injected faults, 404, errors. */
import type { NextFunction, Request, Response } from 'express';
import { errorBody } from './errors.js';
import type { State } from './state.js';
import type { RecordedRequest } from './types.js';

export function recordRequests(st: State) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const url = new URL(req.originalUrl, 'http://x');
    const rec: RecordedRequest = {
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status: 0,
      at: Date.now(),
    };
    st.requests.push(rec);
    res.on('finish', () => {
      rec.status = res.statusCode;
      rec.end = Date.now();
      st.log.push(`${new Date(rec.at).toISOString()} ${rec.method} ${req.originalUrl} -> ${rec.status} (${rec.end - rec.at} ms)`);
    });
    next();
  };
}

export function injectFaults(st: State) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const fault = st.faults.shift();
    if (!fault) return next();
    res.status(fault.status);
    for (const [k, v] of Object.entries(fault.headers)) res.setHeader(k, v);
    if (fault.status === 204 || fault.status === 304) {
      res.end();
      return;
    }
    if (!res.getHeader('content-type')) res.type('application/scim+json');
    res.send(JSON.stringify(fault.body ?? errorBody(fault.status, `Injected failure (HTTP ${fault.status})`)));
  };
}

/** Holds every request for `st.latencyMs` (read per request, so `setLatency` applies at once). */
export function delayRequests(st: State, timers: Set<NodeJS.Timeout>) {
  return (_req: Request, _res: Response, next: NextFunction) => {
    if (st.latencyMs <= 0) return next();
    const t = setTimeout(() => {
      timers.delete(t);
      next();
    }, st.latencyMs);
    timers.add(t);
  };
}

export function notFound(_req: Request, res: Response): void {
  res.status(404).type('application/scim+json').send(JSON.stringify(errorBody(404, 'Endpoint Not Found')));
}

/** The routers answer errors themselves and pass 5xx on; the response is already out then. */
export function handleErrors(st: State) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    st.log.push(`${new Date().toISOString()} ERROR ${req.method} ${req.originalUrl}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    if (res.headersSent) return;
    res.status(500).type('application/scim+json').send(JSON.stringify(errorBody(500, 'Internal server error')));
  };
}
