/** A list egress: filter, sort and cut out the requested page. */
import type SCIMMY from 'scimmy';
import { matchFilter, type Definition } from './filter.js';
import type { Json } from './json.js';
import { sortItems } from './sort.js';
import type { Ctx } from './state.js';

/** Filter, sort and page for a list egress; tells scimmy's ListResponse not to sort or slice again. */
export function listPage<T extends Json>(
  resource: InstanceType<typeof SCIMMY.Types.Resource>,
  all: T[],
  def: Definition,
  ctx: Ctx,
  view: (item: T) => Json,
): Json[] {
  const c = resource.constraints ?? {};
  let list = resource.filter ? matchFilter(resource.filter, all, def, view) : all;
  if (c.sortBy) list = sortItems(list, c.sortBy, c.sortOrder, def);
  const startIndex = Math.max(1, typeof c.startIndex === 'number' ? c.startIndex : 1);
  const count = Math.min(ctx.st.maxResults, Math.max(0, typeof c.count === 'number' ? c.count : ctx.st.maxResults));
  const page = list.slice(startIndex - 1, startIndex - 1 + count);
  // ListResponse slices from `startIndex` and sorts by `sortBy`: hand it a finished first page.
  resource.constraints = { startIndex: 1, count: page.length, totalResults: list.length } as NonNullable<typeof resource.constraints>;
  (ctx.res.locals as { scimStartIndex?: number }).scimStartIndex = startIndex;
  return page.map(view);
}
