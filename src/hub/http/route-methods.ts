/**
 * Which methods each registered path answers, so that a request the router does not match is
 * told apart: a path that exists with another method is 405 METHOD_NOT_ALLOWED with `Allow`
 * (what HTTP clients expect), anything else 404 NO_SUCH_ROUTE.
 */
import type { RouteOptions } from 'fastify';

export class RouteMethods {
  private readonly byPattern = new Map<string, { pattern: RegExp; methods: Set<string> }>();

  /** Records a route (fastify's `onRoute` hook, HEAD routes it adds for GETs included). */
  add(route: Pick<RouteOptions, 'method' | 'url'>): void {
    const entry = this.byPattern.get(route.url) ?? { pattern: patternOf(route.url), methods: new Set<string>() };
    for (const m of Array.isArray(route.method) ? route.method : [route.method]) entry.methods.add(m.toUpperCase());
    this.byPattern.set(route.url, entry);
  }

  /** The methods `path` (no query) answers, sorted; empty when no route has that path. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const { pattern, methods: ms } of this.byPattern.values()) if (pattern.test(path)) for (const m of ms) methods.add(m);
    return [...methods].sort();
  }
}

/** `/v1/data-sources/:name/search` → a RegExp matching its concrete paths (a parameter is one segment). */
function patternOf(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}
