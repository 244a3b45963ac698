export { backoff, backoffDelay, type BackoffDelays, type BackoffOptions } from './backoff.js';
export { keepAlive, KeepAliveTimeoutError, type KeepAliveOptions } from './keep-alive.js';
export { firstWithin, type FirstWithinOptions } from './await-frame.js';
