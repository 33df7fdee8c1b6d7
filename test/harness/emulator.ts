// The API emulator on loopback with a kubeconfig written for it, and small helpers to drive
// it through @kubernetes/client-node as a real client would.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, KubeConfig, type KubernetesObject, Watch } from '@kubernetes/client-node';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import { ApiEmulator } from '../../src/testing/emulator/emulator.js';
import type { EmulatorOptions } from '../../src/testing/emulator/options.js';
import type { Status } from '../../src/testing/emulator/status.js';

export interface EmulatorHarness {
  emu: ApiEmulator;
  kc: KubeConfig;
  kubeconfigPath: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startEmulator(opts: Partial<EmulatorOptions> = {}): Promise<EmulatorHarness> {
  const emu = new ApiEmulator(opts);
  await emu.start({ host: '127.0.0.1', port: 0 });
  const dir = await mkdtemp(join(tmpdir(), 'tabby-emulator-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  await emu.writeKubeconfig(kubeconfigPath);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return {
    emu,
    kc,
    kubeconfigPath,
    dir,
    async stop() {
      await emu.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface WatchedEvent {
  type: string;
  object: KubeObject & { code?: number; reason?: string; message?: string };
}

export interface WatchRecorder {
  events: WatchedEvent[];
  /** Resolves with the error client-node's Watch passed to its done callback (null for a clean end). */
  done: Promise<unknown>;
  ended: () => boolean;
  abort(): void;
}

/** Starts client-node's Watch.watch and records what it delivers. */
export async function recordWatch(
  kc: KubeConfig,
  path: string,
  params: Record<string, string | number | boolean | undefined>,
): Promise<WatchRecorder> {
  const events: WatchedEvent[] = [];
  let ended = false;
  let resolveDone!: (err: unknown) => void;
  const done = new Promise<unknown>((resolve) => {
    resolveDone = resolve;
  });
  const controller = await new Watch(kc).watch(
    path,
    params,
    (type, object) => events.push({ type, object }),
    (err) => {
      ended = true;
      resolveDone(err ?? null);
    },
  );
  return { events, done, ended: () => ended, abort: () => controller.abort() };
}

/** The metav1.Status in a client-node ApiException (its body is the response text). */
export function statusOf(err: unknown): Status {
  if (!(err instanceof ApiException)) throw err;
  return (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as Status;
}

export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

export const pod = (
  name: string,
  namespace = 'default',
  labels: Record<string, string> = {},
): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels },
  spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'busybox' }] },
});

/** Our KubeObject as client-node's KubernetesObject (they differ only in creationTimestamp's type). */
export const k8s = (obj: KubeObject): KubernetesObject => obj as unknown as KubernetesObject;
