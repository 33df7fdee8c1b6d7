// A datastore fed from a directory of Kubernetes and Calico manifests (multi-document YAML),
// re-read when files change: for bare-metal labs, demos, GitOps previews and tests. The same
// converters as the Kubernetes datastore. A file that fails to parse keeps its last good
// objects (an editor's half-saved file must not delete policy); the error is logged.
// Reported WireGuard keys are kept in memory over the files' Nodes (the files are not written).

import { type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { relative } from 'node:path';
import type { Logger } from '../../model/logger.js';
import { listManifestFiles, type ManifestError, readManifestFile } from '../kube/manifests.js';
import { type KubeObject, objectId } from '../kube/object.js';
import { type ObjectConverter, ObjectSink } from '../kube/object-sink.js';
import type { DatastoreHealth, DatastoreSink, DatastoreSource, NodeReportRecorder } from '../source.js';
import { WireguardKeyOverlay } from '../wireguard-key-overlay.js';

export interface FileDatastoreOptions {
  path: string;
  convert: ObjectConverter;
  log: Logger;
  /** Changes are gathered this long before a reload. */
  debounceMs?: number;
  /**
   * Safety net: every so often the files' names, sizes and mtimes are compared with the last
   * load, and a difference triggers a reload. Node's recursive fs.watch on Linux misses some
   * events (deleting a file that replaced another by rename), so watching alone can leave a
   * deleted policy in force. 0 disables it.
   */
  rescanMs?: number;
}

export class FileDatastore implements DatastoreSource, NodeReportRecorder {
  readonly name = 'file';
  readonly reported = new WireguardKeyOverlay();
  private objects: ObjectSink | undefined;
  private watcher: FSWatcher | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  /** Names, sizes and mtimes of the files at the last load. */
  private signature = '';
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private again = false;
  /** Last good objects per file. */
  private readonly byFile = new Map<string, KubeObject[]>();
  lastErrors: ManifestError[] = [];
  reloads = 0;

  constructor(private readonly opts: FileDatastoreOptions) {}

  recordWireguardPublicKey(node: string, publicKey: string | null, signal: AbortSignal): Promise<void> {
    return this.reported.recordWireguardPublicKey(node, publicKey, signal);
  }

  async start(sink: DatastoreSink): Promise<void> {
    sink = this.reported.wrap(sink);
    this.objects = new ObjectSink(sink, this.opts.convert, this.opts.log.child({ datastore: 'file' }));
    sink.onStatus('wait-for-datastore');
    sink.onStatus('resync');
    await this.reload();
    sink.onStatus('in-sync');
    this.watcher = watch(this.opts.path, { recursive: true }, () => this.schedule());
    this.watcher.on('error', (err) =>
      this.opts.log.error({ err: err.message, path: this.opts.path }, 'watching files failed'),
    );
    const rescanMs = this.opts.rescanMs ?? 5_000;
    if (rescanMs > 0) {
      this.rescanTimer = setInterval(() => void this.rescan(), rescanMs);
      this.rescanTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    clearInterval(this.rescanTimer);
    clearTimeout(this.timer);
    await this.reloading;
  }

  /** Objects of the last load that failed conversion and are left out: file and reason. */
  rejectedObjects(): { source: string; reason: string }[] {
    const out: { source: string; reason: string }[] = [];
    const rejected = this.objects?.rejected;
    if (!rejected || rejected.size === 0) return out;
    for (const [file, objects] of this.byFile)
      for (const obj of objects) {
        const reason = rejected.get(objectId(obj));
        if (reason !== undefined) out.push({ source: relative(this.opts.path, file) || file, reason });
      }
    return out;
  }

  health(): DatastoreHealth {
    return {
      conversionErrors: this.objects?.conversionErrors ?? new Map(),
      manifestErrors: this.lastErrors.length,
    };
  }

  private async rescan(): Promise<void> {
    try {
      if ((await this.currentSignature()) !== this.signature) this.schedule();
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message, path: this.opts.path }, 'rescan failed');
    }
  }

  private async currentSignature(): Promise<string> {
    const files = await listManifestFiles(this.opts.path);
    const parts = await Promise.all(
      files.map(async (f) => {
        const st = await stat(f).catch(() => undefined);
        return st ? `${f}:${st.size}:${st.mtimeMs}` : `${f}:gone`;
      }),
    );
    return parts.join('\n');
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reload(), this.opts.debounceMs ?? 200);
  }

  /** Re-reads every file and applies the difference. Serialised: a change during a reload triggers one more. */
  reload(): Promise<void> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = this.readAll().finally(() => {
      this.reloading = undefined;
      if (this.again) {
        this.again = false;
        void this.reload();
      }
    });
    return this.reloading;
  }

  private async readAll(): Promise<void> {
    const root = this.opts.path;
    const signature = await this.currentSignature();
    const files = await listManifestFiles(root);
    const errors: ManifestError[] = [];
    const present = new Set(files);
    for (const f of [...this.byFile.keys()]) if (!present.has(f)) this.byFile.delete(f);
    for (const f of files) {
      const m = await readManifestFile(f, root);
      errors.push(...m.errors);
      // A file with errors keeps its last good objects, unless it never had any.
      if (m.errors.length === 0 || !this.byFile.has(f)) this.byFile.set(f, m.objects);
    }
    for (const e of errors)
      this.opts.log.error({ file: e.source, document: e.document, err: e.message }, 'bad manifest');
    this.lastErrors = errors;
    this.objects!.replaceAll([...this.byFile.values()].flat(), () => true);
    this.signature = signature;
    this.reloads++;
    this.opts.log.info(
      { files: files.length, objects: this.objects!.objectCount, errors: errors.length },
      'manifests loaded',
    );
  }
}
