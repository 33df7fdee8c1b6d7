// The primary's side of fan-out on every core: forks the workers that own the client sockets
// (node:cluster shares the listening socket; on Linux the primary accepts and hands
// connections round-robin), seeds each with the caches' state in parts (so the primary keeps
// serving while a large seed goes out), ships every new generation to each once, keeps them
// told of the replica-wide view, forwards their agents' REPORTs to the datastore, restarts a
// worker that dies and drains them all on shutdown. A worker that stops reading its channel
// (hung, stopped) would make the primary hold every generation for it without end: past a
// bound on the bytes still unwritten to it, it is killed and replaced.

import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../../model/logger.js';
import type { SyncerType } from '../../model/types.js';
import type { NodeReportSink } from '../reports.js';
import { CounterMap } from '../stats.js';
import { type ConnectionFacts, factsOf } from './columns.js';
import { type FromWorker, isOurs, type ToWorker, type WorkerReport, type WorkerView } from './messages.js';

export interface PoolOptions {
  count: number;
  /** The worker's entry module, and node's flags for it (e.g. a TypeScript loader). */
  exec: string;
  execArgv?: readonly string[];
  /**
   * host:port the workers listen on, as given: cluster shares one listening socket among
   * listeners of the same address, port 0 included (a bound port would be another socket).
   */
  listen: string;
  /** The replica's settings, sent to each worker (plain data). */
  config: unknown;
  /**
   * The parts of a mirror seed of every cache, taken now and made as they are read: each is
   * sent once the one before it is written, with the event loop free in between.
   */
  seed(): Iterable<unknown>;
  /** Readiness and the fleet's size, as the primary knows them. */
  view(): Omit<WorkerView, 'replicaClients'>;
  reports?: NodeReportSink;
  log: Logger;
  /** How often the view is checked and sent when it changed (always at least every second). */
  viewCheckMs?: number;
  /**
   * Bytes sent to a worker and not yet written to its channel beyond which, when more is to
   * go, the worker is judged stuck (see stuck()): killed and replaced (a fresh seed; its
   * clients resume).
   */
  maxQueuedBytes: number;
}

interface Member {
  readonly slot: number;
  readonly worker: Worker;
  readonly startedAtMs: number;
  /** Said hello and is being sent its seed: generations for it wait in `held`, in order. */
  held: { msg: ToWorker; bytes: number }[] | undefined;
  /** Has its seed: generations and views go straight to it. */
  seeded: boolean;
  listening: boolean;
  report?: WorkerReport;
  /** Bytes handed to the channel whose write has not completed (what the primary holds for it). */
  queuedBytes: number;
  /** When a write to it last completed, or its queue last went from empty to not. */
  progressAtMs: number;
  /** Judged stuck and killed: nothing more is sent to it. */
  stalled: boolean;
  /** Settles when it has exited. */
  readonly exited: Promise<void>;
  readonly onExit: () => void;
  /** REPORT writes in flight for this worker, by its request id. */
  readonly inflight: Map<number, AbortController>;
}

/** A worker that dies this soon after its start is in a crash loop: its restart is delayed. */
const FAST_FAILURE_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;
const METRICS_TIMEOUT_MS = 3_000;
/** How long past its drain a worker may take to exit before it is killed. */
const DRAIN_GRACE_MS = 10_000;
/** What a control message (view, metrics request, reply) is counted as on a worker's queue. */
const CONTROL_MESSAGE_BYTES = 256;
/** A worker past its queue bound that has written nothing for this long is stuck... */
const STALL_MS = 5_000;
/** ...as is one this many times past it, slow or not. */
const STALL_FACTOR = 4;
/**
 * Seed parts are about this size: serialized in a few ms each, and a 30,000-pod seed is a few
 * dozen messages. A part in flight is counted as this on its worker's queue.
 */
export const SEED_PART_BYTES = 1 << 20;

export class WorkerPool {
  /** Workers that died and were replaced. */
  restarts = 0;
  /** Workers killed because their channel held more than maxQueuedBytes (counted in restarts too). */
  stalls = 0;
  private readonly members = new Map<number, Member>();
  private readonly fastFailures: number[];
  private stopping = false;
  private bound: { host: string; port: number } | undefined;
  private viewTimer: NodeJS.Timeout | undefined;
  private lastView = '';
  private lastViewAtMs = 0;
  private nextRequest = 1;
  private readonly metricsWaiters = new Map<number, (metrics: unknown) => void>();
  private startFailure: ((err: Error) => void) | undefined;

  constructor(private readonly o: PoolOptions) {
    if (!(o.count >= 2)) throw new RangeError('a worker pool has at least 2 workers (1: no pool)');
    this.fastFailures = new Array<number>(o.count).fill(0);
  }

  /** Forks every worker; resolves with the shared address once all of them listen. */
  async start(): Promise<{ host: string; port: number }> {
    cluster.setupPrimary({
      exec: this.o.exec,
      args: [],
      execArgv: [...(this.o.execArgv ?? process.execArgv)],
      serialization: 'advanced',
    });
    cluster.on('message', (w, msg) => this.onMessage(w, msg));
    cluster.on('exit', (w, code, signal) => this.onExit(w, code, signal));
    cluster.on('listening', (w, addr) => this.onListening(w, addr));
    const allListening = new Promise<void>((resolve, reject) => {
      this.startFailure = reject;
      const check = () => {
        if ([...this.members.values()].filter((m) => m.listening).length < this.o.count) return;
        cluster.off('listening', check);
        this.startFailure = undefined;
        resolve();
      };
      cluster.on('listening', check);
    });
    for (let slot = 0; slot < this.o.count; slot++) this.fork(slot);
    await allListening;
    this.viewTimer = setInterval(() => this.sendView(false), this.o.viewCheckMs ?? 250);
    this.viewTimer.unref();
    return this.bound!;
  }

  private fork(slot: number): void {
    const worker = cluster.fork();
    let onExit = () => {};
    const exited = new Promise<void>((resolve) => {
      onExit = resolve;
    });
    this.members.set(worker.id, {
      slot,
      worker,
      startedAtMs: Date.now(),
      held: undefined,
      seeded: false,
      exited,
      onExit,
      listening: false,
      queuedBytes: 0,
      progressAtMs: Date.now(),
      stalled: false,
      inflight: new Map(),
    });
    // A closed channel is an exiting worker: 'exit' follows and handles it.
    worker.on('error', (err) => this.o.log.warn({ worker: slot, err: err.message }, 'worker channel error'));
  }

  /** Sends `msg`, counted as `bytes` on the worker's queue until its write completes. */
  private send(m: Member, msg: ToWorker, bytes = CONTROL_MESSAGE_BYTES): void {
    // A worker that just died fails the write here; its 'exit' handles the rest.
    if (m.stalled || !m.worker.isConnected()) return;
    if (this.stuck(m)) {
      this.stall(m);
      return;
    }
    if (!m.held) {
      void this.write(m, msg, bytes);
      return;
    }
    m.queuedBytes += bytes;
    m.held.push({ msg, bytes });
  }

  /**
   * Whether a worker has stopped reading: more than the bound unwritten and none of it
   * written for STALL_MS, or more than STALL_FACTOR times the bound whatever its pace. Bytes
   * alone would not do: the callbacks that count a write done run on a later turn of the
   * event loop, so a burst of generations (a re-list) queues up on every worker at once.
   */
  private stuck(m: Member): boolean {
    const max = this.o.maxQueuedBytes;
    if (m.queuedBytes <= max) return false;
    return m.queuedBytes > max * STALL_FACTOR || Date.now() - m.progressAtMs > STALL_MS;
  }

  /**
   * Hands `msg` to the channel, counted as `bytes` on the worker's queue until it is written;
   * resolves then (or when the channel closes with it still queued).
   */
  private write(m: Member, msg: ToWorker, bytes: number): Promise<void> {
    if (m.queuedBytes === 0) m.progressAtMs = Date.now();
    m.queuedBytes += bytes;
    return new Promise((resolve) => {
      m.worker.send(msg, undefined, () => {
        m.queuedBytes -= bytes;
        m.progressAtMs = Date.now();
        resolve();
      });
    });
  }

  /**
   * Sends the seed part by part, each once the one before it is written: serializing a large
   * cache as one message held the event loop for all of it (~0.2 s for 30,000 pods) and made
   * the primary hold a second copy of it. Generations that come meanwhile wait in `held` and
   * follow the last part, in order; they count against the worker's bound, so a worker that
   * stops reading during its seed is caught as well.
   */
  private async seed(m: Member): Promise<void> {
    const { config, listen } = this.o;
    this.send(m, { t: 'seed', slot: m.slot, config, view: this.view(), listen });
    m.held = [];
    for (const part of this.o.seed()) {
      if (m.stalled || !m.worker.isConnected()) return;
      await Promise.race([this.write(m, { t: 'seed-part', part }, SEED_PART_BYTES), m.exited]);
    }
    if (m.stalled || !m.worker.isConnected()) return;
    const held = m.held;
    m.held = undefined;
    this.send(m, { t: 'seed-end' });
    for (const h of held) {
      m.queuedBytes -= h.bytes; // counted again by write()
      void this.write(m, h.msg, h.bytes);
    }
    m.seeded = true;
    this.send(m, { t: 'view', view: this.view() });
  }

  /** A worker that no longer reads its channel: killed, so 'exit' replaces it with a fresh seed. */
  private stall(m: Member): void {
    m.stalled = true;
    this.stalls++;
    m.held = undefined; // what it was to get after its seed: a new worker gets a new seed
    this.o.log.error(
      { worker: m.slot, workerPid: m.worker.process.pid, queuedBytes: m.queuedBytes },
      'worker stopped reading its channel: killing it (a new one starts, its clients reconnect and resume)',
    );
    m.worker.process.kill('SIGKILL');
  }

  private onListening(w: Worker, addr: { address: string; port: number }): void {
    const m = this.members.get(w.id);
    if (!m) return;
    m.listening = true;
    this.bound ??= { host: addr.address, port: addr.port };
    this.o.log.info({ worker: m.slot, workerPid: w.process.pid }, 'worker listening');
  }

  private onMessage(w: Worker, raw: unknown): void {
    const m = this.members.get(w.id);
    if (!m || !isOurs<FromWorker>(raw)) return;
    switch (raw.t) {
      case 'hello':
        // Seeds and every later generation go down the same ordered channel, seed first.
        void this.seed(m);
        return;
      case 'report':
        m.report = raw.report;
        return;
      case 'metrics':
        this.metricsWaiters.get(raw.id)?.(raw.metrics);
        return;
      case 'record-key':
        this.recordKey(m, raw.id, raw.node, raw.publicKey);
        return;
      case 'record-abort':
        m.inflight.get(raw.id)?.abort();
        return;
      case 'failed':
        this.o.log.error({ worker: m.slot, err: raw.error }, 'worker could not start');
        this.startFailure?.(Object.assign(new Error(raw.error), raw.code ? { code: raw.code } : {}));
        return;
    }
  }

  private recordKey(m: Member, id: number, node: string, publicKey: string | null): void {
    const sink = this.o.reports;
    if (!sink) {
      this.send(m, { t: 'report-done', id, error: 'this replica records no reports' });
      return;
    }
    const abort = new AbortController();
    m.inflight.set(id, abort);
    const done = (error?: string) => {
      m.inflight.delete(id);
      this.send(m, error === undefined ? { t: 'report-done', id } : { t: 'report-done', id, error });
    };
    sink.recordWireguardPublicKey(node, publicKey, abort.signal).then(
      () => done(),
      (err: unknown) => done((err as Error)?.message ?? String(err)),
    );
  }

  private onExit(w: Worker, code: number | null, signal: string | null): void {
    const m = this.members.get(w.id);
    if (!m) return;
    this.members.delete(w.id);
    m.onExit();
    for (const a of m.inflight.values()) a.abort();
    if (this.stopping) return;
    if (this.startFailure) {
      this.startFailure(new Error(`worker ${m.slot} exited while starting (code ${code}, signal ${signal})`));
      return;
    }
    this.restarts++;
    const lived = Date.now() - m.startedAtMs;
    this.fastFailures[m.slot] = lived < FAST_FAILURE_MS ? this.fastFailures[m.slot]! + 1 : 0;
    const delay =
      this.fastFailures[m.slot] === 0
        ? 0
        : Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** (this.fastFailures[m.slot]! - 1));
    this.o.log.warn(
      { worker: m.slot, workerPid: w.process.pid, code, signal, livedMs: lived, restartInMs: delay },
      'worker exited: starting a new one (its clients reconnect and resume)',
    );
    setTimeout(() => {
      if (!this.stopping) this.fork(m.slot);
    }, delay).unref();
  }

  /** Ships a new generation of `syncer` (about `bytes` long) to every seeded worker. */
  ship(syncer: SyncerType, record: unknown, bytes: number): void {
    const msg: ToWorker = { t: 'gen', syncer, record };
    for (const m of this.members.values()) if (m.seeded || m.held) this.send(m, msg, bytes);
  }

  private view(): WorkerView {
    const replicaClients: Partial<Record<SyncerType, number>> = {};
    for (const m of this.members.values())
      for (const s of m.report?.connections.syncer ?? []) replicaClients[s] = (replicaClients[s] ?? 0) + 1;
    return { ...this.o.view(), replicaClients };
  }

  /** Sends the view now if it changed (e.g. the data just came in sync: workers admit at once). */
  refreshView(): void {
    this.sendView(false);
  }

  /** Sends the view when it changed (readiness at once), and at least every second. */
  private sendView(force: boolean): void {
    const view = this.view();
    const text = JSON.stringify(view);
    const now = Date.now();
    if (!force && text === this.lastView && now - this.lastViewAtMs < 1_000) return;
    this.lastView = text;
    this.lastViewAtMs = now;
    for (const m of this.members.values()) if (m.seeded) this.send(m, { t: 'view', view });
  }

  /** Live workers. */
  get size(): number {
    return this.members.size;
  }

  /** Every worker's streaming connections, as last reported. */
  *connections(): Generator<ConnectionFacts> {
    for (const m of this.members.values())
      if (m.report) yield* factsOf(m.report.connections, m.slot * 1_000_000_000);
  }

  /** Counters summed over the workers' last reports (live workers only). */
  totals(): { open: number; closes: CounterMap; snapshotBytes: number; deltaBytes: number } {
    const closes = new CounterMap();
    let open = 0;
    let snapshotBytes = 0;
    let deltaBytes = 0;
    for (const m of this.members.values()) {
      if (!m.report) continue;
      open += m.report.open;
      snapshotBytes += m.report.snapshotBytes;
      deltaBytes += m.report.deltaBytes;
      for (const [label, n] of m.report.closes) closes.inc(label, n);
    }
    return { open, closes, snapshotBytes, deltaBytes };
  }

  /** Each live worker's metrics (prom-client JSON), those that answer within a few seconds. */
  async metrics(): Promise<unknown[]> {
    const asks = [...this.members.values()]
      .filter((m) => m.seeded && m.worker.isConnected())
      .map(
        (m) =>
          new Promise<unknown>((resolve) => {
            const id = this.nextRequest++;
            const timer = setTimeout(() => {
              this.metricsWaiters.delete(id);
              resolve(undefined);
            }, METRICS_TIMEOUT_MS);
            this.metricsWaiters.set(id, (metrics) => {
              clearTimeout(timer);
              this.metricsWaiters.delete(id);
              resolve(metrics);
            });
            this.send(m, { t: 'metrics', id });
          }),
      );
    return (await Promise.all(asks)).filter((x) => x !== undefined);
  }

  /**
   * Every worker drains its clients over `ms` (as one process would); resolves once all have
   * exited, killing those still there `graceMs` after the drain should have ended.
   */
  async drain(ms: number, graceMs = DRAIN_GRACE_MS): Promise<void> {
    this.stopping = true;
    clearInterval(this.viewTimer);
    const exited = [...this.members.values()].map(
      (m) =>
        new Promise<void>((resolve) => {
          if (m.worker.isDead()) return resolve();
          m.worker.once('exit', () => resolve());
          this.send(m, { t: 'drain', ms });
        }),
    );
    const deadline = setTimeout(() => {
      for (const m of this.members.values()) if (!m.worker.isDead()) m.worker.process.kill('SIGKILL');
    }, ms + graceMs);
    await Promise.all(exited);
    clearTimeout(deadline);
  }
}
