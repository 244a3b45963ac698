/**
 * Reading Prometheus text exposition in tests: the value of one series, found by name and
 * labels (a subset match), as a scraper would see it.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Parses `name{a="x",b="y"} 12` lines; comments and blank lines are skipped. */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_x, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The series of `name` whose labels include `labels`; throws unless exactly one matches. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const found = parseMetrics(text).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) {
    throw new Error(`expected one ${name}${JSON.stringify(labels)}, found ${found.length}: ${JSON.stringify(found)}`);
  }
  return found[0]!.value;
}

/** Like `sample`, but 0 when the series does not exist (yet). */
export function sampleOr0(text: string, name: string, labels: Record<string, string> = {}): number {
  const found = parseMetrics(text).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`expected at most one ${name}${JSON.stringify(labels)}, found ${found.length}`);
  return found[0]?.value ?? 0;
}
