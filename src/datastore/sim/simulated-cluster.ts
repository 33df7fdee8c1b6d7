// The simulated cluster as a DatastoreSource: it reports WaitForDatastore, then Resync while
// it sends the initial state in list-sized batches, then InSync, then churns on a timer.
// Batches depend only on the options (never on timer jitter), so runs are reproducible.

import { SyncStatus } from '../../model/types.js';
import type { DatastoreSink, DatastoreSource } from '../source.js';
import { ChurnGenerator } from './churn.js';
import { buildCluster } from './generate.js';
import { resolveSimOptions, type SimOptions } from './options.js';
import { renderState } from './render.js';

/** Lets the event loop breathe between initial batches, as a paged list would. */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class SimulatedCluster implements DatastoreSource {
  readonly name = 'sim';
  readonly options: SimOptions;
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  private timer: NodeJS.Timeout | undefined;
  private churn: ChurnGenerator | undefined;
  /** Fractional events carried between ticks (e.g. 5/s at 100 ms = one event every other tick). */
  private carry = 0;

  constructor(options: Partial<SimOptions> = {}) {
    this.options = resolveSimOptions(options);
  }

  /** Churn events emitted so far, by kind (undefined before the initial state is sent). */
  get churnCounts(): ChurnGenerator['counts'] | undefined {
    return this.churn?.counts;
  }

  async start(sink: DatastoreSink): Promise<void> {
    if (this.state !== 'idle') throw new Error(`SimulatedCluster cannot start when ${this.state}`);
    this.state = 'running';
    sink.onStatus(SyncStatus.WaitForDatastore);
    const cluster = buildCluster(this.options);
    const initial = renderState(cluster);
    sink.onStatus(SyncStatus.ResyncInProgress);
    const size = this.options.initialBatchSize;
    for (let i = 0; i < initial.length; i += size) {
      sink.onUpdates(initial.slice(i, i + size));
      await yieldToLoop();
      if (this.isStopped()) return;
    }
    sink.onStatus(SyncStatus.InSync);
    this.churn = new ChurnGenerator(cluster);
    if (this.options.churnPerSec > 0) {
      const perTick = (this.options.churnPerSec * this.options.churnTickMs) / 1000;
      this.timer = setInterval(() => this.tick(sink, perTick), this.options.churnTickMs);
    }
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private isStopped(): boolean {
    return this.state === 'stopped';
  }

  private tick(sink: DatastoreSink, perTick: number): void {
    this.carry += perTick;
    const n = Math.floor(this.carry + 1e-9);
    if (n === 0 || this.churn === undefined) return;
    this.carry -= n;
    sink.onUpdates(this.churn.next(n));
  }
}
