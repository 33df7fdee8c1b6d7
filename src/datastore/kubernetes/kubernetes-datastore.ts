// The Kubernetes datastore: exactly one List+Watch per resource type (RESOURCE_TYPES), all
// feeding one ObjectSink, so one replica costs the API server the same whatever the number
// of agents. Status: wait-for-datastore → resync while the first lists run → in-sync once
// every type is listed; back to resync while any watch is failing, while the API does not
// answer its probe (a silent API), and while a replaced store is relisted (the last state
// keeps being served; clients are never dropped because the API is down). Reported WireGuard
// keys are patched onto the Nodes (NodeKeyWriter) and come back through the Node watch.
//
// A replaced store (an etcd restore: resourceVersions go back) is told by revision.ts's rule:
// a consistent read — every list, and the probe — answering below the highest revision served
// before. Then every type relists with every object converted again, diffed against what is
// held, so agents see exactly the new API's state. After a connection-level failure the
// watchers resume from their resourceVersion only once a probe (one per outage, shared by all
// types) has shown the same store: a relist per connection blip would cost a full list of every
// type (at 5,000 nodes, hundreds of MB) for what is almost always the same store.

import type { KubeConfig } from '@kubernetes/client-node';
import { DEFAULT_BACKOFF } from '../../model/backoff.js';
import type { Logger } from '../../model/logger.js';
import type { SyncStatus } from '../../model/types.js';
import { type ObjectConverter, ObjectSink } from '../kube/object-sink.js';
import type { PodPlacementIndex } from '../kube/pod-placement.js';
import { RESOURCE_TYPES, type ResourceType } from '../kube/resources.js';
import type { DatastoreHealth, DatastoreSink, DatastoreSource, NodeReportRecorder } from '../source.js';
import { ApiProbe, type ProbeOptions, type ProbeResult, type ProbeTarget } from './api-probe.js';
import { KubeApi, KubeApiError } from './kube-api.js';
import { NodeKeyWriter } from './node-key-writer.js';
import { DEFAULT_PROBE_OPTIONS, DEFAULT_WATCHER_OPTIONS } from './options.js';
import { ResourceWatcher, type WatcherOptions, type WatcherSupervisor } from './resource-watcher.js';
import { RevisionWatermark } from './revision.js';

export interface KubernetesDatastoreOptions {
  kubeconfig: KubeConfig;
  convert: ObjectConverter;
  log: Logger;
  resources?: readonly ResourceType[];
  watcher?: Partial<WatcherOptions>;
  probe?: Partial<ProbeOptions>;
  /** Keep where agent pods run (mutual TLS identities that name a pod). */
  podPlacement?: PodPlacementIndex;
}

const isNodes = (r: ResourceType): boolean => r.group === '' && r.kind === 'Node';

/**
 * The probe reads the kube-system namespace (it cannot be deleted, so its uid names the store;
 * the RBAC already lists namespaces), else the first watched type.
 */
function probeTarget(rs: readonly ResourceType[]): ProbeTarget {
  const namespaces = rs.find((r) => r.group === '' && r.kind === 'Namespace');
  return namespaces
    ? { resource: namespaces, fieldSelector: 'metadata.name=kube-system' }
    : { resource: rs[0]! };
}

export class KubernetesDatastore implements DatastoreSource, NodeReportRecorder {
  readonly name = 'kubernetes';
  readonly api: KubeApi;
  readonly nodeKeys: NodeKeyWriter;
  private watchers: ResourceWatcher[] = [];
  private objects: ObjectSink | undefined;
  private sink: DatastoreSink | undefined;
  private status: SyncStatus = 'wait-for-datastore';
  private probe: ApiProbe | undefined;
  private readonly watermark = new RevisionWatermark();
  /** The API answered its last probe; why not, and since when. */
  private live = true;
  private notLiveReason: string | undefined;
  private notLiveSince: number | undefined;
  private lastAnswerAt: number | undefined;
  private replacements = 0;
  /** When the last replacement was told: probes sent before it are not compared. */
  private replacedAt = 0;
  /** The uid of the object the probe reads (kube-system), once seen. */
  private identity: string | undefined;
  private log: Logger;

  constructor(private readonly opts: KubernetesDatastoreOptions) {
    this.api = new KubeApi(opts.kubeconfig);
    this.log = opts.log;
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
    this.log = log;
    this.objects = new ObjectSink(sink, this.opts.convert, log, this.opts.podPlacement);
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
      replaceAll: (...args: Parameters<ObjectSink['replaceAll']>) => {
        keys.observeAll(args[0]);
        objects.replaceAll(...args); // the options too: a replaced store reconverts Nodes as well
      },
    };
    const resources = this.opts.resources ?? RESOURCE_TYPES;
    const supervisor: WatcherSupervisor = {
      listed: (rv, floor) => this.listed(rv, floor),
      floor: () => this.watermark.value,
      observed: (rv) => this.watermark.note(rv),
      beforeResume: (failedAt) => this.beforeResume(failedAt),
    };
    this.watchers = resources.map(
      (r) =>
        new ResourceWatcher(r, this.api, isNodes(r) ? nodeSink : objects, wopts, log, supervisor, () =>
          this.updateStatus(),
        ),
    );
    this.probe = new ApiProbe(
      this.api,
      probeTarget(resources),
      { ...DEFAULT_PROBE_OPTIONS, ...this.opts.probe },
      (r) => this.onProbe(r),
      Date.now,
      () => this.watermark.value,
    );
    this.setStatus('resync');
    for (const w of this.watchers) w.start();
    this.probe.start();
  }

  async stop(): Promise<void> {
    this.nodeKeys.stop();
    this.probe?.stop();
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
      api: {
        live: this.live,
        ...(this.notLiveReason !== undefined ? { reason: this.notLiveReason } : {}),
        ...(this.notLiveSince !== undefined
          ? { notLiveSince: new Date(this.notLiveSince).toISOString() }
          : {}),
        ...(this.lastAnswerAt !== undefined
          ? { lastAnswerAt: new Date(this.lastAnswerAt).toISOString() }
          : {}),
        replacements: this.replacements,
      },
    };
  }

  /** A complete list's resourceVersion: false (and every type relisting) when the store was replaced. */
  private listed(rv: string, floor: string | undefined): boolean {
    if (this.watermark.isBehind(rv, floor)) {
      this.replaced(`a list answered at resourceVersion ${rv}`, rv);
      return false;
    }
    this.watermark.note(rv);
    return true;
  }

  private async beforeResume(failedAt: number): Promise<void> {
    const r = await this.probe!.probe(failedAt);
    if (!r.ok) throw new KubeApiError(`probe ${this.probe!.what}: ${r.error}`, undefined, undefined);
  }

  private onProbe(r: ProbeResult): void {
    if (!r.ok) {
      if (this.live) {
        this.live = false;
        this.notLiveSince = Date.now();
        this.log.warn(
          { probe: this.probe?.what, err: r.error },
          'the Kubernetes API does not answer: serving the last state',
        );
      }
      this.notLiveReason = `the API did not answer its probe: ${r.error}`;
      this.updateStatus();
      return;
    }
    this.lastAnswerAt = Date.now();
    const otherIdentity =
      this.identity !== undefined && r.identity !== undefined && r.identity !== this.identity;
    if (r.identity !== undefined) this.identity = r.identity;
    if (otherIdentity) {
      this.replaced(`kube-system has another uid (${r.identity}): another store`, r.resourceVersion);
    } else if (r.startedAt >= this.replacedAt && this.watermark.isBehind(r.resourceVersion, r.floor)) {
      // (A probe sent before the last replacement compares with the old store's revisions.)
      this.replaced(`the probe answered at resourceVersion ${r.resourceVersion}`, r.resourceVersion);
    } else {
      this.watermark.note(r.resourceVersion);
    }
    if (!this.live) {
      this.live = true;
      this.notLiveReason = undefined;
      this.notLiveSince = undefined;
      this.log.info({ probe: this.probe?.what }, 'the Kubernetes API answers again: re-watching every type');
      // A silence may have left half-open watch streams that would stay silent for minutes.
      for (const w of this.watchers) w.rewatch();
    }
    this.updateStatus();
  }

  private replaced(evidence: string, rv: string): void {
    this.replacements++;
    this.replacedAt = Date.now();
    this.log.warn(
      { evidence, heldResourceVersion: this.watermark.value },
      'the store behind the Kubernetes API was replaced (resourceVersions went back): relisting every type, converting every object again',
    );
    this.watermark.reset(rv);
    for (const w of this.watchers) w.relist(true);
  }

  private updateStatus(): void {
    const allSynced = this.watchers.every((w) => w.synced);
    const behind = this.watchers.some((w) => w.state === 'failing' || w.resyncing);
    this.setStatus(allSynced && !behind && this.live ? 'in-sync' : 'resync');
  }

  private setStatus(s: SyncStatus): void {
    if (s === this.status) return;
    this.status = s;
    this.opts.log.info({ status: s }, 'kubernetes datastore status');
    this.sink?.onStatus(s);
  }
}
