// Manifests nested too deeply for the recursive YAML composer are refused by file, before it
// runs: a second such document used to end the process with a fatal V8 error (uncatchable).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../src/datastore/kube/manifests.js';
import { MAX_YAML_NESTING, yamlNestingProblem } from '../../src/datastore/kube/yaml-nesting.js';

const peer = (extra: string) =>
  `{"apiVersion":"crd.projectcalico.org/v1","kind":"BGPPeer","metadata":{"name":"deep"},"spec":{"extra":${extra}}}`;
const deepFlow = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
/** `n` block mappings, one more space of indentation each. */
const deepBlock = (n: number) => Array.from({ length: n }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n');

describe('YAML nesting bound', () => {
  const hostile: Array<[string, string]> = [
    ['flow (JSON) 2,000 deep', peer(deepFlow(2_000))],
    ['flow 100,000 deep', peer(deepFlow(100_000))],
    ['block indentation 2,000 deep', `kind: BGPPeer\nspec:\n${deepBlock(2_000).replace(/^/gm, ' ')}\n`],
    ['compact sequences 3,000 deep', `items:\n${'- '.repeat(3_000)}x\n`],
    // Quoted closers must not hide real openers.
    ['flow with quoted closers', `${'["}]", '.repeat(2_000)}1${']'.repeat(2_000)}`],
  ];
  it('refuses hostile texts by file, repeatedly, without the composer running', () => {
    for (let round = 0; round < 3; round++) {
      for (const [name, text] of hostile) {
        const m = parseManifests(text, 'deep.yaml');
        expect([name, m.objects]).toEqual([name, []]);
        expect(m.errors).toHaveLength(1);
        expect(m.errors[0]!.source).toBe('deep.yaml');
        expect(m.errors[0]!.message).toMatch(
          new RegExp(`^nested more than ${MAX_YAML_NESTING} levels deep .* at line \\d+$`),
        );
      }
    }
  });

  it('counts only structure: brackets in strings, comments and block scalars do not nest', () => {
    const many = '['.repeat(2 * MAX_YAML_NESTING);
    const text = [
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata:',
      `  name: x # ${many}`,
      'data:',
      `  a: "${many}"`,
      `  b: '${many}'`,
      '  c: |',
      `    ${many}`,
      `    ${'{'.repeat(2 * MAX_YAML_NESTING)}`,
      '  d: [1, {e: [2]}]',
    ].join('\n');
    expect(yamlNestingProblem(text)).toBeUndefined();
    const m = parseManifests(text, 'ok.yaml');
    expect(m.errors).toEqual([]);
    expect(m.objects).toHaveLength(1);
  });

  it('every test fixture manifest is far within the bound', () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d)) {
        const p = join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.(ya?ml|json)$/.test(e)) files.push(p);
      }
    };
    walk(new URL('../fixtures', import.meta.url).pathname);
    expect(files.length).toBeGreaterThan(5);
    for (const f of files)
      expect([f, yamlNestingProblem(readFileSync(f, 'utf8'), 64)]).toEqual([f, undefined]);
  });
});
