/** Resource versions (`meta.version`, weak ETags `W/"<revision>"`). */

export function revisionOf(version: string): number {
  const m = /^W\/"(\d+)"$/.exec(version);
  return m ? Number(m[1]) : 0;
}

/** Opaque-tag comparison of an If-Match / If-None-Match header with a version (weak comparison). */
export function etagMatches(header: string, version: string): boolean {
  const bare = (t: string): string => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() === '*' || bare(t) === bare(version));
}
