// Decides whether namespace tests can run here, and if not, says why — loudly. A missing
// prerequisite skips the suite with the reason in its title and a console warning; under CI
// (or TABBY_E2E=require) it fails instead, so a broken runner never passes by skipping.

import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'vitest';
import { E2E_NS_PREFIX } from './cleanup.js';
import { exec } from './exec.js';

export const DEFAULT_TOOLS = ['ip', 'iptables', 'nft', 'nc'] as const;

/** Where a tool lives on PATH (plus the sbin dirs a non-login root shell may lack), or undefined. */
export function which(tool: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = path.join(dir, tool);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next directory
    }
  }
  return undefined;
}

/** Returns undefined when namespace tests can run, else a one-line reason. */
export async function preflight(tools: readonly string[] = DEFAULT_TOOLS): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root (namespaces, veths and iptables need uid 0)';
  const missing = tools.filter((t) => which(t) === undefined);
  if (missing.length > 0) {
    return `missing tools: ${missing.join(', ')} (run scripts/system-deps.sh as root)`;
  }
  const probe = `${E2E_NS_PREFIX}${process.pid}-preflight-${randomBytes(2).toString('hex')}`;
  try {
    await exec('ip', ['netns', 'add', probe]);
  } catch (err) {
    return `cannot create a network namespace: ${(err as Error).message}`;
  } finally {
    await exec('ip', ['netns', 'del', probe]).catch(() => undefined);
  }
  return undefined;
}

/** 'require': unavailability fails; 'skip': always skip; 'auto': skip loudly, but fail under CI=true. */
export function e2eMode(): 'require' | 'skip' | 'auto' {
  const mode = process.env['TABBY_E2E'];
  if (mode === 'require' || mode === 'skip') return mode;
  return process.env['CI'] === 'true' ? 'require' : 'auto';
}

/**
 * `describe` for namespace suites. Top-level await in the test file computes `reason` with
 * `preflight()`, so the skip decision shows in the suite title itself.
 */
export function describeE2E(title: string, reason: string | undefined, body: () => void): void {
  const mode = e2eMode();
  const why = mode === 'skip' ? 'TABBY_E2E=skip' : reason;
  if (why === undefined) {
    describe(title, body);
    return;
  }
  if (mode === 'require') {
    describe(title, () => {
      it(`prerequisites (required because ${process.env['TABBY_E2E'] === 'require' ? 'TABBY_E2E=require' : 'CI=true'})`, () => {
        throw new Error(`e2e suite "${title}" cannot run: ${why}. Set TABBY_E2E=skip to skip deliberately.`);
      });
    });
    return;
  }
  console.warn(`\n*** e2e SKIPPED: "${title}": ${why} ***\n`);
  describe.skip(`${title} [SKIPPED: ${why}]`, body);
}
