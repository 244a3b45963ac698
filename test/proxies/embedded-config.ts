/**
 * The proxy configurations docs/deployment.md shows in its "Behind a reverse proxy" section:
 * the fenced blocks of one language (`nginx`, `haproxy`), so a test can hold them equal to the
 * files in deploy/ that the real-proxy tests run.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DEPLOYMENT_DOC = fileURLToPath(new URL('../../docs/deployment.md', import.meta.url));
export const REVERSE_PROXY_HEADING = '## Behind a reverse proxy';

/** Fenced blocks with the info string `lang` in the section, each with its final newline. */
export function embeddedBlocks(lang: string, doc = readFileSync(DEPLOYMENT_DOC, 'utf8')): string[] {
  const start = doc.indexOf(`\n${REVERSE_PROXY_HEADING}\n`);
  if (start < 0) throw new Error(`docs/deployment.md has no "${REVERSE_PROXY_HEADING}" section`);
  const next = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, next < 0 ? undefined : next);
  const blocks: string[] = [];
  const fence = new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, 'gm');
  for (const m of section.matchAll(fence)) blocks.push(m[1] ?? '');
  return blocks;
}
