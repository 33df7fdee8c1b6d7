// Discovery of Tabby replicas from the EndpointSlices of their Service: a small read-only
// list+watch (namespaced, one label selector) that keeps the ready endpoints' HOST:PORT for
// the port named `sync`. Agents rank these addresses (client/placement.ts); a replica counts
// them to know its share of the fleet. Relists after any watch failure, with backoff.

import { EventEmitter } from 'node:events';
import { DiscoveryV1Api, type KubeConfig, type V1EndpointSlice, Watch } from '@kubernetes/client-node';
import { Backoff } from '../../model/backoff.js';
import type { Logger } from '../../model/logger.js';
import type { ServiceRef } from '../../model/service-ref.js';

/** HOST:PORT of every ready endpoint of a slice that has a port named `portName` (sorted, distinct). */
export function readyAddresses(slices: Iterable<V1EndpointSlice>, portName: string): string[] {
  const out = new Set<string>();
  for (const slice of slices) {
    const port = slice.ports?.find((p) => p.name === portName)?.port;
    if (port === undefined) continue;
    for (const ep of slice.endpoints ?? []) {
      // An unknown readiness (nil) counts as ready, as the EndpointSlice API says to.
      if (ep.conditions?.ready === false) continue;
      for (const ip of ep.addresses ?? []) out.add(ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
    }
  }
  return [...out].sort();
}

export interface EndpointSliceWatchOptions {
  kubeconfig: KubeConfig;
  ref: ServiceRef;
  portName?: string;
  log: Logger;
}

export class EndpointSliceWatch extends EventEmitter<{ change: [addresses: readonly string[]] }> {
  private readonly slices = new Map<string, V1EndpointSlice>();
  private readonly api: DiscoveryV1Api;
  private readonly watcher: Watch;
  private readonly backoff = new Backoff({ initialMs: 1_000, maxMs: 30_000, multiplier: 2, jitter: 0.5 });
  private readonly selector: string;
  private readonly portName: string;
  private current: readonly string[] = [];
  private lastNonEmpty: readonly string[] = [];
  private abort: AbortController | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private synced = false;

  constructor(private readonly o: EndpointSliceWatchOptions) {
    super();
    this.api = o.kubeconfig.makeApiClient(DiscoveryV1Api);
    this.watcher = new Watch(o.kubeconfig);
    this.selector = `kubernetes.io/service-name=${o.ref.service}`;
    this.portName = o.portName ?? 'sync';
  }

  /** Ready replicas' addresses now (empty until the first list). */
  get addresses(): readonly string[] {
    return this.current;
  }

  /**
   * Where an agent should dial: the ready addresses, or — when none is ready (every replica
   * stale, or all restarting) — the last ones that were, which say `not-ready` and when to
   * retry rather than leave the agent with nowhere to go.
   */
  dialable(): readonly string[] {
    return this.current.length > 0 ? this.current : this.lastNonEmpty;
  }

  /** Lists, then watches; failures (the API not reachable yet) are retried with backoff. */
  start(): void {
    this.stopped = false;
    this.listAndWatch().catch((err: unknown) => this.rewatch(err));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.abort?.abort();
  }

  private async listAndWatch(): Promise<void> {
    const { namespace } = this.o.ref;
    const list = await this.api.listNamespacedEndpointSlice({ namespace, labelSelector: this.selector });
    this.slices.clear();
    for (const s of list.items) this.slices.set(s.metadata?.name ?? '', s);
    this.publish();
    this.synced = true;
    if (this.stopped) return;
    this.abort = await this.watcher.watch(
      `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
      {
        labelSelector: this.selector,
        resourceVersion: list.metadata?.resourceVersion,
        allowWatchBookmarks: true,
      },
      (type: string, obj: V1EndpointSlice) => {
        const name = obj.metadata?.name ?? '';
        if (type === 'ADDED' || type === 'MODIFIED') this.slices.set(name, obj);
        else if (type === 'DELETED') this.slices.delete(name);
        else return;
        this.backoff.reset();
        this.publish();
      },
      (err: unknown) => this.rewatch(err),
    );
  }

  /** The watch ended (timeout, 410, network): list again, so nothing missed stays missed. */
  private rewatch(err: unknown): void {
    if (this.stopped) return;
    const wait = this.backoff.next();
    if (err) this.o.log.warn({ err: (err as Error).message, retryInMs: wait }, 'EndpointSlice watch failed');
    this.retry = setTimeout(() => {
      this.listAndWatch().catch((e: unknown) => this.rewatch(e));
    }, wait);
    this.retry.unref();
  }

  private publish(): void {
    const next = readyAddresses(this.slices.values(), this.portName);
    if (this.synced && next.join(',') === this.current.join(',')) return;
    this.current = next;
    if (next.length > 0) this.lastNonEmpty = next;
    this.o.log.info({ service: this.o.ref, addresses: next }, 'Tabby replicas');
    this.emit('change', next);
  }
}
