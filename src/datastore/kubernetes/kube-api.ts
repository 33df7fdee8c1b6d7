// The few Kubernetes API calls the datastore makes, through @kubernetes/client-node's
// KubeConfig (auth, TLS, in-cluster config) and its Watch. Lists are fetched as raw JSON with
// the same fetch options client-node applies, so objects arrive exactly as the server sent
// them (client-node's typed deserialisation would drop unknown fields of Calico CRDs).

import { type KubeConfig, Watch } from '@kubernetes/client-node';
import fetch from 'node-fetch';
import { ErrorCode } from '../../errors/codes.js';
import { TabbyError } from '../../errors/tabby-error.js';
import type { KubeObject } from '../kube/object.js';
import { collectionPath, type ResourceType } from '../kube/resources.js';

export const MERGE_PATCH = 'application/merge-patch+json';

/** A failed API call; `statusCode` 410 means the resourceVersion is too old. */
export class KubeApiError extends TabbyError {
  constructor(
    message: string,
    readonly statusCode: number | undefined,
    readonly reason: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.KubeApi, message, options);
  }
  get expired(): boolean {
    return this.statusCode === 410;
  }
}

export interface ListPage {
  items: KubeObject[];
  resourceVersion: string;
  continueToken: string | undefined;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchHandle {
  abort(): void;
}

export class KubeApi {
  private readonly watcher: Watch;
  /** Bytes of list responses, for the "API load" figures. */
  listBytes = 0;

  constructor(
    private readonly kc: KubeConfig,
    private readonly requestTimeoutMs = 30_000,
  ) {
    this.watcher = new Watch(kc);
  }

  get server(): string {
    return this.kc.getCurrentCluster()?.server ?? '(no cluster)';
  }

  /** One page of a consistent list; `timeoutMs` bounds the whole call (default: the request timeout). */
  async listPage(
    r: ResourceType,
    opts: { limit: number; continueToken?: string; timeoutMs?: number; fieldSelector?: string },
  ): Promise<ListPage> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new KubeApiError('kubeconfig has no current cluster', undefined, undefined);
    const url = new URL(cluster.server + collectionPath(r));
    url.searchParams.set('limit', String(opts.limit));
    if (opts.fieldSelector) url.searchParams.set('fieldSelector', opts.fieldSelector);
    if (opts.continueToken) url.searchParams.set('continue', opts.continueToken);
    const init = await this.kc.applyToFetchOptions({});
    const controller = new AbortController();
    const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    let res: Awaited<ReturnType<typeof fetch>>;
    let text: string;
    try {
      res = await fetch(url.toString(), {
        ...init,
        method: 'GET',
        headers: { ...(init.headers as Record<string, string>), accept: 'application/json' },
        signal: controller.signal as never,
      });
      text = await res.text();
    } catch (err) {
      const why = timedOut ? `did not answer within ${timeoutMs} ms` : (err as Error).message;
      throw new KubeApiError(`list ${r.plural}: ${why}`, undefined, undefined, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    this.listBytes += text.length;
    let body: {
      kind?: string;
      reason?: string;
      message?: string;
      items?: KubeObject[];
      metadata?: Record<string, string>;
    };
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new KubeApiError(
        `list ${r.plural}: HTTP ${res.status}, body is not JSON`,
        res.status,
        undefined,
        {
          cause: err,
        },
      );
    }
    if (res.status !== 200 || !Array.isArray(body.items)) {
      throw new KubeApiError(
        `list ${r.plural}: HTTP ${res.status} ${body.reason ?? ''} ${body.message ?? ''}`.trim(),
        res.status,
        body.reason,
      );
    }
    const apiVersion = r.group ? `${r.group}/${r.version}` : r.version;
    // List items omit apiVersion/kind; restore them so every object is self-describing.
    for (const item of body.items) {
      item.apiVersion ??= apiVersion;
      item.kind ??= r.kind;
    }
    return {
      items: body.items,
      resourceVersion: body.metadata?.resourceVersion ?? '',
      continueToken: body.metadata?.continue || undefined,
    };
  }

  /**
   * JSON merge patch (RFC 7386) of one object, through the same auth and TLS as the lists.
   * Resolves with the patched object; a failure is a KubeApiError with the HTTP status.
   */
  async mergePatch(r: ResourceType, name: string, patch: unknown, namespace?: string): Promise<KubeObject> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new KubeApiError('kubeconfig has no current cluster', undefined, undefined);
    const url = `${cluster.server}${collectionPath(r, namespace)}/${encodeURIComponent(name)}`;
    const what = `patch ${r.plural}/${name}`;
    const init = await this.kc.applyToFetchOptions({});
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.requestTimeoutMs);
    let res: Awaited<ReturnType<typeof fetch>>;
    let text: string;
    try {
      res = await fetch(url, {
        ...init,
        method: 'PATCH',
        headers: {
          ...(init.headers as Record<string, string>),
          accept: 'application/json',
          'content-type': MERGE_PATCH,
        },
        body: JSON.stringify(patch),
        signal: controller.signal as never,
      });
      text = await res.text();
    } catch (err) {
      throw new KubeApiError(`${what}: ${(err as Error).message}`, undefined, undefined, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    let body: KubeObject & { reason?: string; message?: string };
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new KubeApiError(`${what}: HTTP ${res.status}, body is not JSON`, res.status, undefined, {
        cause: err,
      });
    }
    if (res.status !== 200)
      throw new KubeApiError(
        `${what}: HTTP ${res.status} ${body.reason ?? ''} ${body.message ?? ''}`.trim(),
        res.status,
        body.reason,
      );
    return body;
  }

  /**
   * Starts a watch from `resourceVersion` with bookmarks. `onDone` is called once, with an
   * error for a failed request (KubeApiError, statusCode 410 when expired) or a dropped
   * stream, and with null when the server ended the watch (timeoutSeconds).
   */
  async watch(
    r: ResourceType,
    resourceVersion: string,
    timeoutSeconds: number,
    onEvent: (type: WatchEventType, obj: KubeObject) => void,
    onDone: (err: KubeApiError | null) => void,
  ): Promise<WatchHandle> {
    const controller = await this.watcher.watch(
      collectionPath(r),
      { resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
      (type: string, obj: KubeObject) => onEvent(type as WatchEventType, obj),
      (err: unknown) => {
        if (err === null || err === undefined) return onDone(null);
        const e = err as Error & { statusCode?: number; name?: string };
        if (e.name === 'AbortError') return onDone(null);
        onDone(new KubeApiError(`watch ${r.plural}: ${e.message}`, e.statusCode, undefined, { cause: err }));
      },
    );
    return { abort: () => controller.abort() };
  }
}
