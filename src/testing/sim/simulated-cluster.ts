// The simulated cluster as a DatastoreSource: it reports WaitForDatastore, then Resync while
// it lists its objects in pages, then InSync, then churns on a timer. Objects go through an
// ObjectSink with the same converters as the Kubernetes datastore, so what it emits is what
// that datastore would emit for the same objects. Pages depend only on the options.
// Reported WireGuard keys live in an in-memory overlay (there is no Node to annotate).

import { convertObject } from '../../datastore/convert/index.js';
import { type ObjectEvent, ObjectSink } from '../../datastore/kube/object-sink.js';
import type {
  DatastoreHealth,
  DatastoreSink,
  DatastoreSource,
  NodeReportRecorder,
} from '../../datastore/source.js';
import { WireguardKeyOverlay } from '../../datastore/wireguard-key-overlay.js';
import { type Logger, silentLogger } from '../../model/logger.js';
import { SyncStatus } from '../../model/types.js';
import { ChurnGenerator } from './churn.js';
import { buildCluster } from './generate.js';
import { clusterObjects } from './objects.js';
import { resolveSimOptions, type SimOptions } from './options.js';

/** Lets the event loop breathe between pages, as a paged list would. */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class SimulatedCluster implements DatastoreSource, NodeReportRecorder {
  readonly name = 'sim';
  readonly options: SimOptions;
  readonly reported = new WireguardKeyOverlay();
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  private timer: NodeJS.Timeout | undefined;
  private churn: ChurnGenerator | undefined;
  private objects: ObjectSink | undefined;
  /** Fractional events carried between ticks (e.g. 5/s at 100 ms = one event every other tick). */
  private carry = 0;

  constructor(
    options: Partial<SimOptions> = {},
    private readonly log: Logger = silentLogger,
  ) {
    this.options = resolveSimOptions(options);
  }

  recordWireguardPublicKey(node: string, publicKey: string | null, signal: AbortSignal): Promise<void> {
    return this.reported.recordWireguardPublicKey(node, publicKey, signal);
  }

  /** Churn events emitted so far, by kind (undefined before the initial state is sent). */
  get churnCounts(): ChurnGenerator['counts'] | undefined {
    return this.churn?.counts;
  }

  health(): DatastoreHealth {
    return { conversionErrors: this.objects?.conversionErrors ?? new Map() };
  }

  async start(sink: DatastoreSink): Promise<void> {
    if (this.state !== 'idle') throw new Error(`SimulatedCluster cannot start when ${this.state}`);
    this.state = 'running';
    sink = this.reported.wrap(sink);
    sink.onStatus(SyncStatus.WaitForDatastore);
    const cluster = buildCluster(this.options);
    const out = new ObjectSink(sink, convertObject, this.log.child({ datastore: 'sim' }));
    this.objects = out;
    sink.onStatus(SyncStatus.ResyncInProgress);
    const size = this.options.initialBatchSize;
    let page: ObjectEvent[] = [];
    const flush = async (): Promise<boolean> => {
      out.apply(page);
      page = [];
      await yieldToLoop();
      return this.isStopped();
    };
    for (const object of clusterObjects(cluster)) {
      page.push({ type: 'ADDED', object });
      if (page.length === size && (await flush())) return;
    }
    if (page.length > 0 && (await flush())) return;
    sink.onStatus(SyncStatus.InSync);
    this.churn = new ChurnGenerator(cluster);
    if (this.options.churnPerSec > 0) {
      const perTick = (this.options.churnPerSec * this.options.churnTickMs) / 1000;
      this.timer = setInterval(() => this.tick(perTick), this.options.churnTickMs);
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

  private tick(perTick: number): void {
    this.carry += perTick;
    const n = Math.floor(this.carry + 1e-9);
    if (n === 0 || this.churn === undefined || this.objects === undefined) return;
    this.carry -= n;
    this.objects.apply(this.churn.next(n));
  }
}
