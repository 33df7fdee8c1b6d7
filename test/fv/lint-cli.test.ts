import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../src/lint/index.js';
import { run } from '../harness/cli.js';

const FIX = new URL('../fixtures/lint/', import.meta.url).pathname;
let tmp = '';
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'tabby-lint-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('tabby lint (real process)', () => {
  it('the $180,000 incident: exit 1, the wrong peer named with its file, grouped output with the fix', async () => {
    const r = await run(['lint', '-f', `${FIX}incident`]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('Errors (1):');
    expect(r.stdout).toMatch(
      /\[bgp-peer-asn-mismatch\] BGPPeer\/rack7-tor-worker-7-03 {2}\(.*incident\/new-peer\.yaml\)/,
    );
    expect(r.stdout).toContain('fix: ');
    expect(r.stdout).not.toContain('BGPPeer/rack7-tor-worker-7-01 ');
    expect(r.stdout.trim().split('\n').at(-1)).toBe('1 error, 0 warnings, 0 info');
  });

  it('the fixed configuration: exit 0, no findings', async () => {
    const r = await run([
      'lint',
      '-f',
      `${FIX}incident-fixed/cluster.yaml`,
      '-f',
      `${FIX}incident-fixed/new-peer.yaml`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('No findings.\n');
  });

  it('--json prints one array; warnings alone exit 0; --max-mesh-nodes and --service-cidr apply', async () => {
    const tiers = await run(['lint', '-f', `${FIX}tiers.yaml`, '--json']);
    expect(tiers.code, tiers.stderr).toBe(0);
    const f = JSON.parse(tiers.stdout) as Finding[];
    expect(f.map((x) => [x.rule, x.severity, x.resource])).toEqual([
      ['tier-deny-without-pass', 'warning', 'Tier/gate'],
      ['tier-deny-without-pass', 'info', 'Tier/last'],
    ]);

    const nodes = Array.from(
      { length: 4 },
      (_, i) =>
        `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: n${i}\nspec:\n  bgp:\n    ipv4Address: 10.5.0.${i + 1}/24\n`,
    ).join('---\n');
    const pool =
      'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: svc\nspec:\n  cidr: 10.96.0.0/16\n';
    await writeFile(join(tmp, 'cluster.yaml'), `${nodes}---\n${pool}`);
    const r = await run([
      'lint',
      '-f',
      tmp,
      '--max-mesh-nodes',
      '3',
      '--service-cidr',
      '10.96.0.0/12',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(1);
    const rules = (JSON.parse(r.stdout) as Finding[]).map((x) => [x.rule, x.resource]);
    expect(rules).toEqual([
      ['ippool-overlaps-network', 'IPPool/svc'],
      ['full-mesh-too-large', 'BGPConfiguration/default'],
    ]);
  });

  it('conversion and YAML errors are findings naming the resource; unknown kinds are info', async () => {
    await writeFile(
      join(tmp, 'bad.yaml'),
      [
        'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: both-encaps\nspec:\n  cidr: 10.60.0.0/16\n  ipipMode: Always\n  vxlanMode: Always\n',
        'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n',
        'a: [unclosed\n',
      ].join('---\n'),
    );
    const r = await run(['lint', '-f', join(tmp, 'bad.yaml'), '--json']);
    expect(r.code, r.stderr).toBe(1);
    const f = JSON.parse(r.stdout) as Finding[];
    expect(f.map((x) => [x.rule, x.severity])).toEqual([
      ['invalid-manifest', 'error'],
      ['invalid-resource', 'error'],
      ['unchecked-resource', 'info'],
    ]);
    expect(f[1]!.resource).toBe('IPPool/both-encaps');
    expect(f[1]!.message).toContain('ipipMode and vxlanMode cannot both be enabled');
  });

  it('no -f exits 2', async () => {
    expect((await run(['lint'])).code).toBe(2);
  });

  it('a missing path exits 2', async () => {
    expect((await run(['lint', '-f', join(tmp, 'missing')])).code).toBe(2);
  });

  it('a bad --service-cidr exits 2', async () => {
    const bad = await run(['lint', '-f', `${FIX}tiers.yaml`, '--service-cidr', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid CIDR');
  });
});
