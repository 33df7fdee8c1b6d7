// Records every namespace and process an e2e lab creates and removes them all: on `destroy()`,
// on process exit or a termination signal, and — for runs that were SIGKILLed — by sweeping
// namespaces left behind by dead processes at the start of the next run.

import type { ChildProcess } from 'node:child_process';
import { exec, execSyncQuiet } from './exec.js';

/** Every namespace the harness creates starts with this, then the owner's PID: `tabbye2e-<pid>-…`. */
export const E2E_NS_PREFIX = 'tabbye2e-';

const KILL_GRACE_MS = 1_000;

/** The namespaces and processes of one lab, removed in reverse order of creation. */
export class Cleanup {
  private readonly namespaces: string[] = [];
  private readonly processes = new Set<ChildProcess>();
  private done = false;

  constructor() {
    active.add(this);
    installExitHandlers();
  }

  /** Call before creating the namespace, so a half-finished creation is still removed. */
  trackNamespace(ns: string): void {
    this.namespaces.push(ns);
  }

  trackProcess(child: ChildProcess): void {
    this.processes.add(child);
    child.once('exit', () => this.processes.delete(child));
  }

  get trackedNamespaces(): readonly string[] {
    return this.namespaces;
  }

  /** Stops tracked processes (TERM, then KILL), kills anything else inside, deletes the namespaces. */
  async run(): Promise<void> {
    if (this.done) return;
    this.done = true;
    active.delete(this);
    await Promise.all([...this.processes].map((p) => stopProcess(p)));
    const errors: unknown[] = [];
    for (const ns of [...this.namespaces].reverse()) {
      try {
        await removeNamespace(ns);
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0)
      throw new AggregateError(errors, `e2e cleanup: ${errors.length} namespace(s) left`);
  }

  /** Best-effort synchronous cleanup for `process.on('exit')` and signal handlers. */
  runSync(): void {
    if (this.done) return;
    this.done = true;
    active.delete(this);
    for (const p of this.processes) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const ns of [...this.namespaces].reverse()) removeNamespaceSync(ns);
  }
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Lists namespace names (`ip netns list` prints `name (id: N)` for namespaces with an id). */
export async function listNamespaces(): Promise<string[]> {
  const { stdout } = await exec('ip', ['netns', 'list']);
  return parseNetnsList(stdout);
}

function parseNetnsList(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

async function removeNamespace(ns: string): Promise<void> {
  if (!(await listNamespaces()).includes(ns)) return;
  // Processes keep a namespace (and its links) alive after `ip netns del`; kill them first.
  const { stdout } = await exec('ip', ['netns', 'pids', ns]);
  for (const pid of stdout.split(/\s+/).filter(Boolean)) killQuiet(Number(pid));
  await exec('ip', ['netns', 'del', ns]);
}

function removeNamespaceSync(ns: string): void {
  const pids = execSyncQuiet('ip', ['netns', 'pids', ns]);
  if (pids === undefined) return; // does not exist
  for (const pid of pids.split(/\s+/).filter(Boolean)) killQuiet(Number(pid));
  execSyncQuiet('ip', ['netns', 'del', ns]);
}

function killQuiet(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes namespaces starting with `prefix` whose owning process (the PID in the name) is gone:
 * leftovers of crashed or SIGKILLed runs. Namespaces of live runs — concurrent test files or
 * another developer's run — are never touched. Returns the names removed.
 */
export async function sweepStale(prefix: string = E2E_NS_PREFIX): Promise<string[]> {
  if (!prefix.startsWith(E2E_NS_PREFIX))
    throw new Error(`sweepStale: prefix must start with ${E2E_NS_PREFIX}`);
  const removed: string[] = [];
  for (const ns of await listNamespaces()) {
    if (!ns.startsWith(prefix)) continue;
    const owner = Number(/^tabbye2e-(\d+)-/.exec(ns)?.[1] ?? Number.NaN);
    if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) continue;
    if (owner === process.pid && [...active].some((c) => c.trackedNamespaces.includes(ns))) continue;
    await removeNamespace(ns);
    removed.push(ns);
  }
  return removed;
}

const active = new Set<Cleanup>();
let handlersInstalled = false;

function cleanupAllSync(): void {
  for (const c of [...active]) c.runSync();
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      cleanupAllSync();
      process.removeListener(signal, onSignal);
      // If nobody else (e.g. the test runner) handles the signal, restore its default: terminate.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
