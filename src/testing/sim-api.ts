// `--datastore sim-api`: the simulated cluster served by an in-process Kubernetes API
// emulator and watched through the Kubernetes datastore — the production code path
// (client-node List+Watch, converters) with nothing outside this process. Churn is applied
// to the emulator as API writes, so it reaches Tabby as watch events. Reported WireGuard
// keys are patched onto the emulator's Nodes by the Kubernetes datastore, as in a cluster.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { convertObject } from '../datastore/convert/index.js';
import type { KubeObject } from '../datastore/kube/object.js';
import type { ObjectEvent } from '../datastore/kube/object-sink.js';
import { KubernetesDatastore } from '../datastore/kubernetes/kubernetes-datastore.js';
import { WIREGUARD_KEY_ANNOTATION } from '../datastore/kubernetes/node-key-writer.js';
import {
  abortable,
  type DatastoreHealth,
  type DatastoreSink,
  type DatastoreSource,
  type NodeReportRecorder,
} from '../datastore/source.js';
import type { Logger } from '../model/logger.js';
import { ApiEmulator } from './emulator/emulator.js';
import { ChurnGenerator, generateObjects, type SimOptions } from './sim/index.js';

const CHURN_TICK_MS = 100;
/**
 * The emulator's event history (its watch cache) shares this process, so it counts against
 * the replica's memory: every pod churned rewrites a whole IPAMBlock (~25 KB as objects), and
 * the emulator's 5-minute default held ~100 MB at 20 changes/s. Like kube-apiserver's watch
 * cache (75 s fresh), 75 s is plenty: a watch resumes from the bookmark sent as it ends, and a
 * watcher further behind gets 410 and relists, diffed.
 */
const EMULATOR_HISTORY_MS = 75_000;

export class EmulatedSimDatastore implements DatastoreSource, NodeReportRecorder {
  readonly name = 'sim-api';
  readonly emulator: ApiEmulator;
  private inner: KubernetesDatastore | undefined;
  private innerStarted!: (inner: KubernetesDatastore) => void;
  /** Reports may arrive before start() has made the Kubernetes datastore. */
  private readonly innerReady = new Promise<KubernetesDatastore>((resolve) => {
    this.innerStarted = resolve;
  });
  private dir: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private carry = 0;
  churnErrors = 0;

  constructor(
    private readonly sim: Partial<SimOptions>,
    private readonly watchTimeoutSeconds: number,
    private readonly log: Logger,
  ) {
    this.emulator = new ApiEmulator({
      log: log.child({ component: 'emulator' }),
      historyMaxAgeMs: EMULATOR_HISTORY_MS,
    });
  }

  async start(sink: DatastoreSink): Promise<void> {
    const loaded = this.emulator.loadObjects(generateObjects(this.sim));
    if (loaded.errors.length > 0)
      this.log.error({ errors: loaded.errors.slice(0, 5) }, 'sim objects rejected by the emulator');
    const url = await this.emulator.start({ host: '127.0.0.1', port: 0 });
    this.dir = await mkdtemp(join(tmpdir(), 'tabby-sim-api-'));
    const kubeconfigPath = join(this.dir, 'kubeconfig');
    await this.emulator.writeKubeconfig(kubeconfigPath);
    const kubeconfig = new KubeConfig();
    kubeconfig.loadFromFile(kubeconfigPath);
    this.log.info({ url, objects: loaded.loaded }, 'API emulator seeded with the simulated cluster');
    this.inner = new KubernetesDatastore({
      kubeconfig,
      convert: convertObject,
      log: this.log,
      watcher: { minWatchTimeoutSeconds: this.watchTimeoutSeconds },
    });
    await this.inner.start(sink);
    this.innerStarted(this.inner);
    const churnPerSec = this.sim.churnPerSec ?? 0;
    if (churnPerSec > 0) {
      const churn = new ChurnGenerator(this.sim);
      const perTick = (churnPerSec * CHURN_TICK_MS) / 1000;
      this.timer = setInterval(() => {
        this.carry += perTick;
        const n = Math.floor(this.carry + 1e-9);
        this.carry -= n;
        if (n > 0) this.write(churn.next(n));
      }, CHURN_TICK_MS);
    }
  }

  async recordWireguardPublicKey(node: string, publicKey: string | null, signal: AbortSignal): Promise<void> {
    const inner = await abortable(this.innerReady, signal);
    return inner.recordWireguardPublicKey(node, publicKey, signal);
  }

  /**
   * A churned Node keeps the key an agent reported: the simulator rewrites whole objects,
   * where a real controller would patch only its own fields.
   */
  private keepReportedKey(obj: KubeObject): KubeObject {
    if (obj.kind !== 'Node') return obj;
    const key = this.emulator.get(obj)?.metadata.annotations?.[WIREGUARD_KEY_ANNOTATION];
    if (key === undefined) return obj;
    const annotations = { ...obj.metadata.annotations, [WIREGUARD_KEY_ANNOTATION]: key };
    return { ...obj, metadata: { ...obj.metadata, annotations } };
  }

  /** Applies churn as API writes (as controllers and kubelets would). */
  private write(events: readonly ObjectEvent[]): void {
    for (const ev of events) {
      try {
        if (ev.type === 'DELETED') this.emulator.delete(ev.object);
        else if (ev.type === 'ADDED') this.emulator.create(ev.object);
        else {
          const obj = this.keepReportedKey(ev.object);
          this.emulator.update({ ...obj, metadata: { ...obj.metadata, resourceVersion: undefined } });
        }
      } catch (err) {
        this.churnErrors++;
        this.log.warn(
          { type: ev.type, object: ev.object.metadata.name, err: (err as Error).message },
          'churn write failed',
        );
      }
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.inner?.stop();
    await this.emulator.stop();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  health(): DatastoreHealth {
    return this.inner?.health() ?? { conversionErrors: new Map() };
  }
}
