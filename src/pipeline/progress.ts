/**
 * Progress of a long search or export in the log. A ten-minute search used to say nothing
 * between its start and its end; now, every `everyMs` while it runs, one info line gives the
 * items sent so far (entries of a search, write results of an export), the bytes, the rate over
 * the last interval and the time since the start — with the request id and data source from
 * the request's logger. A request that logged progress also logs its end at info, with the
 * totals and its outcome; a short one ends at debug as before, so a busy agent's log is not
 * flooded with one line per request.
 *
 * It wraps the request's metric meter (meter.ts), which the streams already tell of every chunk
 * they hand to the socket writer: the lines count what left the agent, not what was read.
 */
import { interval, type SchedulerLike, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import type { RequestMeter } from './meter.js';

export interface ProgressOptions {
  /** Interval between progress lines; 0 turns them off. */
  readonly everyMs: number;
  readonly log: Logger;
  /** `search` or `export`: names the lines. */
  readonly op: string;
  readonly scheduler?: SchedulerLike;
  /** Time source (the scheduler's `now` in marble tests). Default `Date.now`. */
  readonly now?: () => number;
}

export interface ProgressMeter extends RequestMeter {
  /** Items sent so far. */
  readonly items: number;
}

/** `meter` that also logs progress every `everyMs` until `finished` is called. */
export function withProgress(meter: RequestMeter, options: ProgressOptions): ProgressMeter {
  const now = options.now ?? (() => options.scheduler?.now() ?? Date.now());
  const started = now();
  let items = 0;
  let bytes = 0;
  let lastItems = 0;
  let lastAt = started;
  let reported = false;
  let ticker: Subscription | undefined;
  if (options.everyMs > 0) {
    ticker = interval(options.everyMs, options.scheduler).subscribe(() => {
      const at = now();
      const seconds = (at - lastAt) / 1000;
      const perSecond = seconds > 0 ? Math.round((items - lastItems) / seconds) : 0;
      lastItems = items;
      lastAt = at;
      reported = true;
      options.log.info({ items, bytes, perSecond, elapsedMs: at - started }, `${options.op} in progress: ${items} items sent`);
    });
  }
  return {
    get items() {
      return items;
    },
    firstResult: () => meter.firstResult(),
    chunkSent(n, b) {
      items += n;
      bytes += b;
      meter.chunkSent(n, b);
    },
    creditStalled: () => meter.creditStalled(),
    finished(code) {
      ticker?.unsubscribe();
      ticker = undefined;
      const fields = { outcome: code, items, bytes, elapsedMs: now() - started };
      if (reported) options.log.info(fields, `${options.op} finished: ${items} items, ${code}`);
      else options.log.debug(fields, 'request finished');
      meter.finished(code);
    },
  };
}
