// The bpf dataplane on lab nodes: builds bpf/policy.c (scripts/build-bpf.sh) before the suite,
// gives each node its own pin directory and state file (bpffs is one per host, lab nodes are
// namespaces), sweeps pins of dead runs, and turns a missing toolchain into a failing test
// that says what to install — never a skip.

import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { BpfDriver, defaultObjectPath, execShim } from '../../../src/agent/dataplane/bpf/index.js';
import { E2E_NS_PREFIX } from './cleanup.js';
import { describeE2E, preflight, which } from './preflight.js';
import type { Lab, LabNode } from './topology.js';

const BPFFS = '/sys/fs/bpf';

/** Why the bpf toolchain is not usable here (undefined: bpftool found and the object built). */
export function bpfToolchainProblem(): string | undefined {
  if (which('bpftool') === undefined)
    return 'bpftool not found: install clang llvm libbpf-dev bpftool (scripts/system-deps.sh as root)';
  try {
    execFileSync('bash', [new URL('../../../scripts/build-bpf.sh', import.meta.url).pathname], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    return `npm run build:bpf failed: ${e.stderr?.toString().trim() || e.message}`;
  }
  return undefined;
}

/**
 * describeE2E for bpf suites: no root or namespaces skips (loudly) as every e2e does; a
 * missing bpf toolchain fails.
 */
export async function describeBpf(title: string, body: () => void): Promise<void> {
  const reason = await preflight(['ip', 'tc', 'nsenter']);
  const problem = reason === undefined ? bpfToolchainProblem() : undefined;
  if (problem !== undefined) {
    describe(title, () => {
      it('bpf toolchain', () => {
        throw new Error(`e2e suite "${title}" cannot run: ${problem}`);
      });
    });
    return;
  }
  if (reason === undefined) sweepStalePins();
  describeE2E(title, reason, body);
}

export function bpfDriver(lab: Lab, node: LabNode): BpfDriver {
  return new BpfDriver(execShim(), {
    baseDir: join(BPFFS, `${lab.prefix}${node.name}`),
    stateFile: join(tmpdir(), `${lab.prefix}${node.name}-bpf.json`),
    object: defaultObjectPath(),
    netns: node.ns,
  });
}

/** Pin directories of runs whose process is gone. */
function sweepStalePins(): void {
  let names: string[];
  try {
    names = readdirSync(BPFFS);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(E2E_NS_PREFIX)) continue;
    const pid = Number(name.slice(E2E_NS_PREFIX.length).split('-')[0]);
    if (!Number.isInteger(pid) || alive(pid)) continue;
    rmSync(join(BPFFS, name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
