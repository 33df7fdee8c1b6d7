// The Kubernetes datastore: exactly one List+Watch per resource type (RESOURCE_TYPES), all
// feeding one ObjectSink, so one replica costs the API server the same whatever the number
// of agents. Status: wait-for-datastore → resync while the first lists run → in-sync once
// every type is listed; back to resync while any watch is failing (the last state keeps
// being served; clients are never dropped because the API is down).

import type { KubeConfig } from '@kubernetes/client-node';
import { DEFAULT_BACKOFF } from '../../model/backoff.js';
import type { Logger } from '../../model/logger.js';
import type { SyncStatus } from '../../model/types.js';
import { type ObjectConverter, ObjectSink } from '../kube/object-sink.js';
import { RESOURCE_TYPES, type ResourceType } from '../kube/resources.js';
import type { DatastoreHealth, DatastoreSink, DatastoreSource } from '../source.js';
import { KubeApi } from './kube-api.js';
import { ResourceWatcher, type WatcherOptions } from './resource-watcher.js';

export interface KubernetesDatastoreOptions {
  kubeconfig: KubeConfig;
  convert: ObjectConverter;
  log: Logger;
  resources?: readonly ResourceType[];
  watcher?: Partial<WatcherOptions>;
}

export const DEFAULT_WATCHER_OPTIONS: WatcherOptions = {
  pageSize: 500,
  minWatchTimeoutSeconds: 300,
  backoff: { ...DEFAULT_BACKOFF, initialMs: 200 },
};

export class KubernetesDatastore implements DatastoreSource {
  readonly name = 'kubernetes';
  readonly api: KubeApi;
  private watchers: ResourceWatcher[] = [];
  private objects: ObjectSink | undefined;
  private sink: DatastoreSink | undefined;
  private status: SyncStatus = 'wait-for-datastore';

  constructor(private readonly opts: KubernetesDatastoreOptions) {
    this.api = new KubeApi(opts.kubeconfig);
  }

  async start(sink: DatastoreSink): Promise<void> {
    this.sink = sink;
    const log = this.opts.log.child({ datastore: 'kubernetes', server: this.api.server });
    this.objects = new ObjectSink(sink, this.opts.convert, log);
    sink.onStatus('wait-for-datastore');
    const wopts = { ...DEFAULT_WATCHER_OPTIONS, ...this.opts.watcher };
    this.watchers = (this.opts.resources ?? RESOURCE_TYPES).map(
      (r) => new ResourceWatcher(r, this.api, this.objects!, wopts, log, () => this.updateStatus()),
    );
    this.setStatus('resync');
    for (const w of this.watchers) w.start();
  }

  async stop(): Promise<void> {
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
