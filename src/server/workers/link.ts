// A worker's side of fan-out on every core: says hello, takes its seed and every generation
// from the primary in order, keeps the replica-wide view, answers metrics requests, pushes
// its connections every few seconds and sends its agents' REPORTs to the primary's datastore.
// The primary owns the lifecycle: signals are left to it (a terminal's Ctrl-C reaches the
// whole process group) and a worker whose primary is gone exits at once, leaving no orphan.

import type { Logger } from '../../model/logger.js';
import type { SyncerType } from '../../model/types.js';
import type { ReplicaView } from '../rebalance.js';
import type { NodeReportSink } from '../reports.js';
import { type FromWorker, isOurs, type ToWorker, type WorkerReport, type WorkerView } from './messages.js';

export interface WorkerSeed {
  slot: number;
  config: unknown;
  /** The mirror seed's parts, in the order they came. */
  parts: unknown[];
  view: WorkerView;
  /** host:port to listen on, as configured (cluster shares the socket, port 0 too). */
  listen: string;
}

/** What the worker's composition root provides (cli/serve-worker.ts). */
export interface WorkerRole {
  /** Builds the mirrors and the server, then listens. The mirrors must exist before it awaits. */
  start(seed: WorkerSeed): Promise<void>;
  adopt(syncer: SyncerType, record: unknown): void;
  drain(ms: number): Promise<void>;
  metrics(): Promise<unknown>;
  report(): WorkerReport;
  exit(code: number): void;
}

/**
 * The replica view of a worker. Its share of the fleet is judged on the replica's total: a
 * worker holding a fraction f of the replica's clients of a syncer keeps f of the replica's
 * share, so together the workers shed what the replica holds above its share.
 */
export function workerReplicaView(view: () => WorkerView, mine: (syncer: SyncerType) => number): ReplicaView {
  return {
    fresh: () => view().fresh,
    readyReplicas: () => view().readyReplicas,
    expectedClients: (syncer) => {
      const v = view();
      const expected = v.expected[syncer] ?? 0;
      const total = v.replicaClients[syncer] ?? 0;
      const own = mine(syncer);
      return total > 0 && own > 0 ? (expected * Math.min(own, total)) / total : 0;
    },
  };
}

/** How often a worker tells the primary about its connections (fleet lag is judged on these). */
export const REPORT_INTERVAL_MS = 2_000;

export class WorkerLink {
  private view: WorkerView = { fresh: false, readyReplicas: 0, expected: {}, replicaClients: {} };
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(): void; reject(err: Error): void }>();
  private reportTimer: NodeJS.Timeout | undefined;
  /** A seed that has begun and not ended. */
  private seeding: WorkerSeed | undefined;

  constructor(private readonly log: Logger) {}

  private send(msg: FromWorker): void {
    // A channel that broke under us (the primary died) is reported here, not thrown: 'disconnect' follows.
    if (process.connected) process.send!(msg, undefined, undefined, () => {});
  }

  /** This worker's view of the replica (see workerReplicaView). */
  replicaView(mine: (syncer: SyncerType) => number): ReplicaView {
    return workerReplicaView(() => this.view, mine);
  }

  /** REPORTs go to the primary's datastore; an abort here aborts the write there. */
  readonly reportSink: NodeReportSink = {
    recordWireguardPublicKey: (node, publicKey, signal) =>
      new Promise<void>((resolve, reject) => {
        const id = this.nextId++;
        this.pending.set(id, { resolve, reject });
        signal.addEventListener('abort', () => this.send({ t: 'record-abort', id }), { once: true });
        this.send({ t: 'record-key', id, node, publicKey });
      }),
  };

  run(role: WorkerRole): void {
    process.on('message', (msg: unknown) => {
      if (isOurs<ToWorker>(msg)) this.onMessage(role, msg);
    });
    process.on('disconnect', () => role.exit(0)); // the primary is gone
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => {});
    this.send({ t: 'hello' });
  }

  private start(role: WorkerRole, seed: WorkerSeed): void {
    this.view = seed.view;
    role.start(seed).then(
      () => {
        this.reportTimer = setInterval(
          () => this.send({ t: 'report', report: role.report() }),
          REPORT_INTERVAL_MS,
        );
        this.reportTimer.unref();
        this.send({ t: 'report', report: role.report() });
      },
      (err: unknown) => {
        const code = (err as NodeJS.ErrnoException)?.code;
        this.send({
          t: 'failed',
          error: (err as Error)?.message ?? String(err),
          ...(code ? { code } : {}),
        });
        role.exit(1);
      },
    );
  }

  private onMessage(role: WorkerRole, msg: ToWorker): void {
    switch (msg.t) {
      case 'seed': {
        const { slot, config, view, listen } = msg;
        this.seeding = { slot, config, view, listen, parts: [] };
        return;
      }
      case 'seed-part':
        this.seeding?.parts.push(msg.part);
        return;
      case 'seed-end': {
        const seed = this.seeding;
        this.seeding = undefined;
        if (seed) this.start(role, seed);
        return;
      }
      case 'gen':
        role.adopt(msg.syncer, msg.record);
        return;
      case 'view':
        this.view = msg.view;
        return;
      case 'drain':
        clearInterval(this.reportTimer);
        role.drain(msg.ms).then(
          () => role.exit(0),
          (err: unknown) => {
            this.log.error({ err }, 'drain failed');
            role.exit(1);
          },
        );
        return;
      case 'metrics':
        role.metrics().then(
          (metrics) => this.send({ t: 'metrics', id: msg.id, metrics }),
          (err: unknown) => this.log.warn({ err }, 'metrics not collected'),
        );
        return;
      case 'report-done': {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error === undefined) p?.resolve();
        else p?.reject(new Error(msg.error));
        return;
      }
    }
  }
}
