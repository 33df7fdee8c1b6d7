// Records reported WireGuard public keys on Kubernetes Nodes as Calico does: the
// `projectcalico.org/WireguardPublicKey` annotation, written with a JSON merge patch
// (null removes it). The Node watch then carries the change to the converter and from
// there to every agent, so this module never emits KVs itself. It skips a patch when the
// watched Node already has the value (reconnect storms after a server restart cost the API
// nothing), and retries transient failures with backoff until the caller's signal aborts.

import { Backoff, type BackoffOptions } from '../../model/backoff.js';
import type { Logger } from '../../model/logger.js';
import type { KubeObject } from '../kube/object.js';
import type { ObjectEvent } from '../kube/object-sink.js';
import { RESOURCE_TYPES, type ResourceType } from '../kube/resources.js';
import { abortable, NodeNotFoundError, type NodeReportRecorder } from '../source.js';
import type { KubeApi } from './kube-api.js';
import { KubeApiError } from './kube-api.js';

export const WIREGUARD_KEY_ANNOTATION = 'projectcalico.org/WireguardPublicKey';
export const NODES: ResourceType = RESOURCE_TYPES.find((r) => r.group === '' && r.kind === 'Node')!;

/** HTTP statuses worth retrying: rate limits, conflicts, server trouble, no answer at all. */
const transient = (status: number | undefined): boolean =>
  status === undefined || status === 409 || status === 429 || status >= 500;

export interface NodeKeyWriterStats {
  patches: number;
  skipped: number;
  failures: number;
}

export class NodeKeyWriter implements NodeReportRecorder {
  /** node → its annotation as last seen by the watch (null: the node has none). */
  private readonly observed = new Map<string, string | null>();
  private markSynced!: () => void;
  private readonly synced = new Promise<void>((resolve) => {
    this.markSynced = resolve;
  });
  private readonly stopping = new AbortController();
  readonly stats: NodeKeyWriterStats = { patches: 0, skipped: 0, failures: 0 };

  constructor(
    private readonly api: KubeApi,
    private readonly log: Logger,
    private readonly backoff: BackoffOptions,
    /** False when Nodes are not watched: nothing is known, every report is patched. */
    watchingNodes: boolean,
  ) {
    if (!watchingNodes) this.markSynced();
  }

  /** Node events from the watch (before conversion, so a node that fails it still counts). */
  observeEvents(events: readonly ObjectEvent[]): void {
    for (const ev of events) {
      if (ev.type === 'DELETED') this.observed.delete(ev.object.metadata.name);
      else this.observe(ev.object);
    }
  }

  /** A complete list of Nodes (first list, or relist after 410). */
  observeAll(objects: readonly KubeObject[]): void {
    this.observed.clear();
    for (const o of objects) this.observe(o);
    this.markSynced();
  }

  stop(): void {
    this.stopping.abort(new Error('datastore stopping'));
  }

  async recordWireguardPublicKey(node: string, publicKey: string | null, signal: AbortSignal): Promise<void> {
    const abort = AbortSignal.any([signal, this.stopping.signal]);
    // Until Nodes are listed every report would look new: wait, so a restart patches nothing.
    await abortable(this.synced, abort);
    const backoff = new Backoff(this.backoff);
    for (;;) {
      abort.throwIfAborted();
      const seen = this.observed.get(node);
      if (seen !== undefined && seen === publicKey) {
        this.stats.skipped++;
        return;
      }
      try {
        const patched = await this.api.mergePatch(NODES, node, {
          metadata: { annotations: { [WIREGUARD_KEY_ANNOTATION]: publicKey } },
        });
        this.stats.patches++;
        // The watch will say the same; knowing now spares a second patch for a quick repeat.
        this.observe(patched);
        this.log.info({ node, removed: publicKey === null }, 'recorded WireGuard public key on the Node');
        return;
      } catch (err) {
        if (!(err instanceof KubeApiError)) throw err;
        this.stats.failures++;
        if (err.statusCode === 404) throw new NodeNotFoundError(node);
        if (!transient(err.statusCode)) throw err; // 403: RBAC lacks `patch` on nodes; 422: refused
        const delay = backoff.next();
        this.log.warn({ node, err: err.message, retryInMs: delay }, 'patching the Node failed: retrying');
        await abortable(new Promise((r) => setTimeout(r, delay).unref()), abort);
      }
    }
  }

  private observe(obj: KubeObject): void {
    const v = obj.metadata?.annotations?.[WIREGUARD_KEY_ANNOTATION];
    this.observed.set(obj.metadata.name, typeof v === 'string' && v !== '' ? v : null);
  }
}
