// ApiEmulator: an in-memory emulation of the kube-apiserver's List/Watch HTTP API for the
// types Tabby watches, reachable through @kubernetes/client-node with the kubeconfig it
// writes. Tests drive it through the same API or directly (create/update/patch/delete/get/
// list), inject faults (compact, dropWatches, pause, stop/start, freeze/resume, replaceStore,
// and request faults: 500s, delays, lists cut half way)
// and read its counters.

import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { KubeObject } from '../../datastore/kube/object.js';
import { type ResourceType, resourceTypeOf } from '../../datastore/kube/resources.js';
import { RequestFaults } from './faults.js';
import type { HandlerContext } from './handlers.js';
import { type HttpContext, requestListener } from './http.js';
import { writeKubeconfig } from './kubeconfig.js';
import { type LoadResult, loadDirectory, loadObjects } from './load.js';
import { type EmulatorOptions, resolveEmulatorOptions } from './options.js';
import { applyPatch, JSON_PATCH, MERGE_PATCH } from './patch.js';
import { EmulatorStats, type StatsSnapshot } from './stats.js';
import { badRequest, notFound } from './status.js';
import { ObjectStore } from './store.js';
import { WatchHub } from './watch-hub.js';

/** Names one object: any KubeObject will do. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

export interface ListenAddress {
  host?: string;
  port?: number;
}

export class ApiEmulator {
  private readonly opts: Readonly<EmulatorOptions>;
  private readonly store: ObjectStore;
  private readonly counters = new EmulatorStats();
  private readonly watches: WatchHub;
  private readonly ctx: HttpContext;
  private server: Server | undefined;
  private address: { host: string; port: number } | undefined;
  /** Open connections, those whose output is held while frozen, and requests waiting to be served. */
  private readonly sockets = new Set<Socket>();
  private readonly held = new Set<Socket>();
  private waiting: Array<() => void> = [];
  private frozen = false;
  /** 500s, slow answers and lists cut half way (faults.ts); off until set. */
  readonly faults = new RequestFaults();

  constructor(options: Partial<EmulatorOptions> = {}) {
    this.opts = resolveEmulatorOptions(options);
    const o = this.opts;
    this.store = new ObjectStore({ maxEvents: o.historyMaxEvents, maxAgeMs: o.historyMaxAgeMs });
    this.watches = new WatchHub(
      this.store,
      this.counters,
      {
        bookmarkIntervalMs: o.bookmarkIntervalMs,
        maxQueuedEvents: o.watchMaxQueuedEvents,
        maxQueuedBytes: o.watchMaxQueuedBytes,
        minRequestTimeoutMs: o.minRequestTimeoutMs,
        tooLargeRvWaitMs: o.tooLargeRvWaitMs,
      },
      o.log,
    );
    const handlers: HandlerContext = {
      store: this.store,
      watches: this.watches,
      tooLargeRvWaitMs: o.tooLargeRvWaitMs,
    };
    this.ctx = {
      ...handlers,
      stats: this.counters,
      log: o.log,
      token: o.token,
      serverAddress: () => (this.address ? `${this.address.host}:${this.address.port}` : ''),
      hooks: {
        stats: () => this.stats(),
        compact: () => this.compact(),
        dropWatches: () => this.dropWatches(),
        pause: (ms) => {
          this.pause(ms).catch((err: unknown) =>
            o.log.error({ err }, 'emulator failed to restart after pause'),
          );
        },
        freeze: (ms) => {
          this.freeze();
          setTimeout(() => this.resume(), ms).unref();
        },
      },
    };
  }

  /** Listens (default 127.0.0.1 and, after a stop(), the port it had); resolves to the URL. */
  async start(listen: ListenAddress = {}): Promise<string> {
    if (this.server) return this.url;
    const host = listen.host ?? this.address?.host ?? '127.0.0.1';
    const port = listen.port ?? this.address?.port ?? 0;
    const serve = requestListener(this.ctx);
    const server = createServer((req, res) => {
      const faulted = () => this.faults.intercept(req, res, serve);
      if (this.frozen) this.waiting.push(faulted);
      else faulted();
    });
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => {
        this.sockets.delete(socket);
        this.held.delete(socket);
      });
      if (this.frozen) this.hold(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.address = { host, port: (server.address() as AddressInfo).port };
    this.opts.log.info({ url: this.url }, 'apiserver emulator listening');
    return this.url;
  }

  /**
   * Stops listening and closes every connection; the state is kept. Watches are cut mid-stream,
   * or with `graceful` ended cleanly as a shutting-down apiserver ends them.
   */
  async stop(opts: { graceful?: boolean } = {}): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    if (opts.graceful) this.watches.endAll();
    else this.watches.dropAll();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** The API is down for `ms`: stop(), then start() on the same port. */
  async pause(ms: number): Promise<void> {
    await this.stop();
    await new Promise((resolve) => setTimeout(resolve, ms));
    await this.start();
  }

  /**
   * The API process stops as under SIGSTOP: every connection stays open, no request is served
   * and nothing is written to any connection (responses, watch events and bookmarks wait in
   * memory) until resume(); new connections are accepted, as the kernel's backlog does.
   */
  freeze(): void {
    if (this.frozen) return;
    this.frozen = true;
    for (const s of this.sockets) this.hold(s);
    this.opts.log.info('emulator frozen');
  }

  /** Ends a freeze(): what was written meanwhile goes out, waiting requests are read. */
  resume(): void {
    if (!this.frozen) return;
    this.frozen = false;
    for (const s of this.held) s.uncork();
    this.held.clear();
    for (const serve of this.waiting.splice(0)) serve();
    this.opts.log.info('emulator resumed');
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  private hold(socket: Socket): void {
    if (this.held.has(socket)) return;
    this.held.add(socket);
    socket.cork();
    // A stopped process's idle keep-alive connections do not time out either.
    socket.setTimeout(0);
  }

  /**
   * The store behind the API is replaced by a fresh one holding `objects`: an etcd restored from
   * an older snapshot, or a new cluster at the same address. resourceVersions start again at 1,
   * so clients hold versions the new store has not reached. Open watches end cleanly, as the
   * apiserver's cacher ends its watchers when its store is re-initialised (`cut`: their
   * connections are cut instead).
   */
  replaceStore(objects: readonly unknown[] = [], opts: { cut?: boolean } = {}): LoadResult {
    if (opts.cut) this.watches.dropAll();
    else this.watches.endAll();
    this.store.reset();
    const result = loadObjects(this.store, objects);
    this.opts.log.info({ objects: result.loaded, resourceVersion: this.store.rv }, 'emulator store replaced');
    return result;
  }

  get url(): string {
    if (!this.address) throw new Error('the emulator has not been started');
    const { host, port } = this.address;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  get port(): number {
    if (!this.address) throw new Error('the emulator has not been started');
    return this.address.port;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /** The current global resourceVersion. */
  get resourceVersion(): string {
    return String(this.store.rv);
  }

  stats(): StatsSnapshot {
    return this.counters.snapshot(this.store.rv, this.store.count(), this.store.historyEvents());
  }

  /** Drops all event history: a watch or paged list from any earlier resourceVersion gets 410. */
  compact(): void {
    this.store.compact();
    this.opts.log.info({ resourceVersion: this.store.rv }, 'emulator history compacted');
  }

  /** Cuts every open watch connection mid-stream; returns how many. */
  dropWatches(): number {
    return this.watches.dropAll();
  }

  writeKubeconfig(path: string): Promise<void> {
    return writeKubeconfig(path, this.url, this.opts.token);
  }

  loadObjects(objects: readonly unknown[]): LoadResult {
    return loadObjects(this.store, objects);
  }

  loadDirectory(dir: string): Promise<LoadResult> {
    return loadDirectory(this.store, dir);
  }

  // Direct store access for tests: the same validation, events and errors as over HTTP.
  // Objects go in and come out as copies. projectcalico.org/v3 names the CRD group.

  create(obj: KubeObject): KubeObject {
    const r = typeOf(obj);
    const namespace = r.namespaced ? obj.metadata.namespace || 'default' : undefined;
    return structuredClone(this.store.create(r, structuredClone(obj), namespace));
  }

  /** PUT semantics: a metadata.resourceVersion in `obj` must match (409 Conflict otherwise). */
  update(obj: KubeObject): KubeObject {
    const r = typeOf(obj);
    return structuredClone(
      this.store.update(r, namespaceOf(r, obj), obj.metadata.name, structuredClone(obj)),
    );
  }

  patch(ref: ObjectRef, patch: unknown, type: 'merge' | 'json' = 'merge'): KubeObject {
    const r = typeOf(ref);
    const ns = namespaceOf(r, ref);
    const cur = this.store.get(r, ns, ref.metadata.name);
    if (!cur) throw notFound(r, ref.metadata.name);
    const patched = applyPatch(cur, type === 'json' ? JSON_PATCH : MERGE_PATCH, JSON.stringify(patch));
    return structuredClone(this.store.update(r, ns, ref.metadata.name, patched));
  }

  delete(ref: ObjectRef): KubeObject {
    const r = typeOf(ref);
    return structuredClone(this.store.delete(r, namespaceOf(r, ref), ref.metadata.name));
  }

  get(ref: ObjectRef): KubeObject | undefined {
    const r = typeOf(ref);
    const obj = this.store.get(r, namespaceOf(r, ref), ref.metadata.name);
    return obj && structuredClone(obj);
  }

  /** The objects of a type (in one namespace, or all), sorted by namespace/name. */
  list(apiVersion: string, kind: string, namespace?: string): KubeObject[] {
    const r = typeOf({ apiVersion, kind });
    return this.store
      .snapshot(r, this.store.rv)
      .filter((e) => namespace === undefined || e.object.metadata.namespace === namespace)
      .map((e) => structuredClone(e.object));
  }
}

function typeOf(ref: { apiVersion: string; kind: string }): ResourceType {
  const r = resourceTypeOf(ref.apiVersion, ref.kind);
  if (!r) throw badRequest(`${ref.apiVersion} ${ref.kind} is not a resource type the emulator serves`);
  return r;
}

const namespaceOf = (r: ResourceType, ref: { metadata: { namespace?: string } }) =>
  r.namespaced ? ref.metadata.namespace || 'default' : undefined;
