// The Kubernetes datastore: exactly one List+Watch per resource type (RESOURCE_TYPES), all
// feeding one ObjectSink, so one replica costs the API server the same whatever the number
// of agents. Status: wait-for-datastore → resync while the first lists run → in-sync once
// every type is listed; back to resync while any watch is failing (the last state keeps
// being served; clients are never dropped because the API is down). Reported WireGuard keys
// are patched onto the Nodes (NodeKeyWriter) and come back through the Node watch.

import type { KubeConfig } from '@kubernetes/client-node';
import { DEFAULT_BACKOFF } from '../../model/backoff.js';
import type { Logger } from '../../model/logger.js';
import type { SyncStatus } from '../../model/types.js';
import { type ObjectConverter, ObjectSink } from '../kube/object-sink.js';
import { RESOURCE_TYPES, type ResourceType } from '../kube/resources.js';
import type { DatastoreHealth, DatastoreSink, DatastoreSource, NodeReportRecorder } from '../source.js';
import { KubeApi } from './kube-api.js';
import { NodeKeyWriter } from './node-key-writer.js';
import { ResourceWatcher, type WatcherOptions } from './resource-watcher.js';

export interface KubernetesDatastoreOptions {
  kubeconfig: KubeConfig;
  convert: ObjectConverter;
  log: Logger;
  resources?: readonly ResourceType[];
  watcher?: Partial<WatcherOptions>;
}

const isNodes = (r: ResourceType): boolean => r.group === '' && r.kind === 'Node';

export const DEFAULT_WATCHER_OPTIONS: WatcherOptions = {
  pageSize: 500,
  minWatchTimeoutSeconds: 300,
  backoff: { ...DEFAULT_BACKOFF, initialMs: 200 },
};

export class KubernetesDatastore implements DatastoreSource, NodeReportRecorder {
  readonly name = 'kubernetes';
  readonly api: KubeApi;
  readonly nodeKeys: NodeKeyWriter;
  private watchers: ResourceWatcher[] = [];
  private objects: ObjectSink | undefined;
  private sink: DatastoreSink | undefined;
  private status: SyncStatus = 'wait-for-datastore';

  constructor(private readonly opts: KubernetesDatastoreOptions) {
    this.api = new KubeApi(opts.kubeconfig);
    const watchingNodes = (opts.resources ?? RESOURCE_TYPES).some(isNodes);
    this.nodeKeys = new NodeKeyWriter(
      this.api,
      opts.log.child({ datastore: 'kubernetes', component: 'node-keys' }),
      { ...DEFAULT_BACKOFF, initialMs: 200 },
      watchingNodes,
    );
  }

  recordWireguardPublicKey(node: string, publicKey: string | null, signal: AbortSignal): Promise<void> {
    return this.nodeKeys.recordWireguardPublicKey(node, publicKey, signal);
  }

  async start(sink: DatastoreSink): Promise<void> {
    this.sink = sink;
    const log = this.opts.log.child({ datastore: 'kubernetes', server: this.api.server });
    this.objects = new ObjectSink(sink, this.opts.convert, log);
    sink.onStatus('wait-for-datastore');
    const wopts = { ...DEFAULT_WATCHER_OPTIONS, ...this.opts.watcher };
    const objects = this.objects;
    const keys = this.nodeKeys;
    // The Node watcher also tells the key writer what each Node carries, so it can skip patches.
    const nodeSink = {
      apply: (events: Parameters<ObjectSink['apply']>[0]) => {
        keys.observeEvents(events);
        objects.apply(events);
      },
      replaceAll: (items: Parameters<ObjectSink['replaceAll']>[0], inScope: (id: string) => boolean) => {
        keys.observeAll(items);
        objects.replaceAll(items, inScope);
      },
    };
    this.watchers = (this.opts.resources ?? RESOURCE_TYPES).map(
      (r) =>
        new ResourceWatcher(r, this.api, isNodes(r) ? nodeSink : objects, wopts, log, () =>
          this.updateStatus(),
        ),
    );
    this.setStatus('resync');
    for (const w of this.watchers) w.start();
  }

  async stop(): Promise<void> {
    this.nodeKeys.stop();
    for (const w of this.watchers) w.stop();
  }

  health(): DatastoreHealth {
    return {
      conversionErrors: this.objects?.conversionErrors ?? new Map(),
      resources: this.watchers.map((w) => ({
        resource: w.resource.plural,
        state: w.state,
        synced: w.synced,
        stats: { ...w.stats },
      })),
    };
  }

  private updateStatus(): void {
    const allSynced = this.watchers.every((w) => w.synced);
    const failing = this.watchers.some((w) => w.state === 'failing');
    this.setStatus(allSynced && !failing ? 'in-sync' : 'resync');
  }

  private setStatus(s: SyncStatus): void {
    if (s === this.status) return;
    this.status = s;
    this.opts.log.info({ status: s }, 'kubernetes datastore status');
    this.sink?.onStatus(s);
  }
}
