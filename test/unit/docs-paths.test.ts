// The docs name files of this repository: each named path must exist, and nothing may point
// outside the repository (a reader of a clone has only the clone).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const DOCS = [
  'README.md',
  'proto/PROTOCOL.md',
  'src/testing/emulator/README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const TOP = /^(src|test|docs|proto|loadtest|scripts|deploy)\//;
/** Directories the repository ignores (e.g. loadtest/results/): what the docs say is written there. */
const IGNORED = readFileSync(join(ROOT, '.gitignore'), 'utf8')
  .split('\n')
  .filter((l) => l.endsWith('/') && !l.startsWith('#'));
const generated = (path: string): boolean => IGNORED.some((dir) => path.startsWith(dir));

/** Paths a doc names: relative link targets, `repo/paths`, and paths given to -f/--path/--load. */
function namedPaths(doc: string, text: string): Array<{ path: string; resolved: string }> {
  const out: Array<{ path: string; resolved: string }> = [];
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^(https?:|mailto:|#)/.test(target!)) continue;
    const path = target!.split('#')[0]!;
    out.push({ path, resolved: join(ROOT, dirname(doc), path) });
  }
  for (const [, code] of text.matchAll(/`([^`\n]+)`/g))
    for (const token of code!.split(/\s+/)) {
      const path = token.replace(/[.,;:)]+$/, '');
      // Globs, placeholders and elisions are not paths.
      if (TOP.test(path) && !/[*<>{}…]|\.\.\.|NAME|<|\$/.test(path))
        out.push({ path, resolved: join(ROOT, path) });
    }
  // `-f -` is standard input; `#` starts a shell comment.
  for (const [, arg] of text.matchAll(/(?:^|\s)(?:-f|--path|--load)\s+([^\s[\]`]+)/gm))
    if (!/[A-Z$<]/.test(arg!) && arg !== '-' && !arg!.startsWith('#'))
      out.push({ path: arg!, resolved: join(ROOT, arg!) });
  return out;
}

describe('docs', () => {
  it.each(DOCS)('%s names only files that exist in the repository', (doc) => {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    expect(text).not.toMatch(/\/work\/|\.\.\/shared\b/);
    const missing = namedPaths(doc, text).filter((p) => !existsSync(p.resolved) && !generated(p.path));
    expect(missing.map((p) => p.path)).toEqual([]);
  });

  it('finds the paths it is meant to check', () => {
    const paths = namedPaths(
      'docs/x.md',
      'see [spec](../proto/PROTOCOL.md#hello), `src/model/keys.ts`, `src/**/*.ts`,\n```\ntabby lint -f manifests/ --path DIR\n```',
    ).map((p) => p.path);
    expect(paths).toEqual(['../proto/PROTOCOL.md', 'src/model/keys.ts', 'manifests/']);
  });
});
