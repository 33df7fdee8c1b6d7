// Where the API server placed each agent pod: the bridge from a certificate that names a pod
// (what cert-manager's csi-driver can issue to a DaemonSet pod) to the node that pod runs on.
// Fed from the Pod watch the datastore already holds; only pods of one namespace that a
// DaemonSet controls are kept (not a replica, a debug pod, or a pod someone created with a
// chosen spec.nodeName), and only while they are bound and not finished, so a pod deleted or
// done speaks for no node.

import type { KubeObject } from './object.js';

export class PodPlacementIndex {
  private readonly nodeOf = new Map<string, string>();
  private readonly prefix: string;

  constructor(readonly namespace: string) {
    this.prefix = `/Pod/${namespace}/`;
  }

  /** An object arrived or changed (any kind; only this namespace's pods are kept). */
  upsert(obj: KubeObject): void {
    if (obj.kind !== 'Pod' || obj.apiVersion !== 'v1' || obj.metadata.namespace !== this.namespace) return;
    const spec = obj.spec as { nodeName?: unknown } | undefined;
    const phase = (obj.status as { phase?: unknown } | undefined)?.phase;
    const finished =
      phase === 'Succeeded' || phase === 'Failed' || obj.metadata.deletionTimestamp !== undefined;
    const owners = obj.metadata.ownerReferences;
    const daemonSetPod =
      Array.isArray(owners) &&
      owners.some(
        (o: { kind?: unknown; controller?: unknown }) => o.kind === 'DaemonSet' && o.controller === true,
      );
    if (daemonSetPod && typeof spec?.nodeName === 'string' && spec.nodeName !== '' && !finished)
      this.nodeOf.set(obj.metadata.name, spec.nodeName);
    else this.nodeOf.delete(obj.metadata.name);
  }

  /** An object is gone (by objectId). */
  remove(id: string): void {
    if (id.startsWith(this.prefix)) this.nodeOf.delete(id.slice(this.prefix.length));
  }

  /** The node the API server bound this pod (of the namespace) to, if it is live. */
  nodeOfPod(pod: string): string | undefined {
    return this.nodeOf.get(pod);
  }

  get size(): number {
    return this.nodeOf.size;
  }
}
