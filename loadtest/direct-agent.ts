// The "direct" mode's agent: what a node agent does without Tabby — one List and then one
// Watch per resource type on the API server. As light as the Tabby-side LeanClient: list
// bodies are counted and dropped (only the list's resourceVersion is read), watch events are
// split on newlines and scanned for the same send stamps, never parsed.

import { type ClientRequest, request } from 'node:http';
import { collectionPath, RESOURCE_TYPES, type ResourceType } from '../src/datastore/kube/resources.js';
import { type ClientSink, wallNow } from './lean-client.js';
import { forEachStamp } from './stamp.js';

/** What a DirectAgent reports; the worker's sink for LeanClients has the same shape. */
export type DirectSink = Pick<ClientSink, 'onSample' | 'onBytes'> & {
  onSynced(a: DirectAgent): void;
  onFailed(a: DirectAgent, why: string): void;
};

const RV = /"resourceVersion":"(\d+)"/;
const NEWLINE = 0x0a;
/** How the emulator (as kube-apiserver) starts a delete event line. */
const DELETED = Buffer.from('{"type":"DELETED"');

export class DirectAgent {
  private readonly requests = new Set<ClientRequest>();
  private pending = RESOURCE_TYPES.length;
  synced = false;
  gone = false;
  startedAtMs = 0;
  syncedAtMs = 0;

  constructor(
    readonly id: number,
    private readonly apiPort: number,
    private readonly sink: DirectSink,
  ) {}

  start(): void {
    this.startedAtMs = wallNow();
    for (const r of RESOURCE_TYPES) this.list(r);
  }

  destroy(): void {
    this.gone = true;
    for (const r of this.requests) r.destroy();
    this.requests.clear();
  }

  private get(path: string, onBody: (chunk: Buffer) => void, onEnd: () => void): void {
    const req = request({ host: '127.0.0.1', port: this.apiPort, path, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        this.fail(`GET ${path}: HTTP ${res.statusCode}`);
        res.resume();
        return;
      }
      res.on('data', (d: Buffer) => {
        this.sink.onBytes(d.length);
        onBody(d);
      });
      res.on('end', () => {
        this.requests.delete(req);
        onEnd();
      });
      res.on('error', (err) => this.fail(err.message));
    });
    this.requests.add(req);
    req.on('error', (err) => this.fail(`GET ${path}: ${err.message}`));
    req.end();
  }

  /** The list's resourceVersion sits in its metadata, ahead of the items: read it from the head only. */
  private list(r: ResourceType): void {
    let head = '';
    let rv: string | undefined;
    this.get(
      collectionPath(r),
      (chunk) => {
        if (rv !== undefined || head.length > 4096) return;
        head += chunk.toString('latin1', 0, Math.min(chunk.length, 4096));
        rv = RV.exec(head)?.[1];
      },
      () => {
        if (this.gone) return;
        if (rv === undefined) this.fail(`list ${r.plural}: no resourceVersion`);
        else this.watch(r, rv);
      },
    );
  }

  private watch(r: ResourceType, rv: string): void {
    let carry: Buffer | undefined;
    const path = `${collectionPath(r)}?watch=1&allowWatchBookmarks=true&resourceVersion=${rv}`;
    let last = rv;
    let expired = false;
    this.get(
      path,
      (chunk) => {
        const buf = carry ? Buffer.concat([carry, chunk]) : chunk;
        const end = buf.lastIndexOf(NEWLINE);
        if (end < 0) {
          carry = buf;
          return;
        }
        const lines = buf.subarray(0, end + 1);
        carry = end + 1 < buf.length ? buf.subarray(end + 1) : undefined;
        const now = wallNow();
        for (let at = 0; at < lines.length; ) {
          const eol = lines.indexOf(NEWLINE, at);
          const line = lines.subarray(at, eol);
          at = eol + 1;
          // A DELETED event carries the object's last state, stamp included: not a delivery
          // (through Tabby a delete is a nil value, with no stamp either).
          if (line.subarray(0, DELETED.length).equals(DELETED)) continue;
          forEachStamp(line, (_, sentAt) => this.sink.onSample(now - sentAt, sentAt, this.id));
        }
        const rvs = lines.toString('latin1').match(/"resourceVersion":"(\d+)"/g);
        if (rvs) last = rvs[rvs.length - 1]!.slice(19, -1);
        if (lines.includes('"type":"ERROR"')) expired = true;
      },
      // A watch that ends (timeout, dropped) is resumed from the last event seen; after an
      // ERROR (410 Expired: too far behind) the type is listed again, as informers do.
      () => {
        if (this.gone) return;
        if (expired) this.list(r);
        else this.watch(r, last);
      },
    );
    // The watch is open once the request is out; the emulator answers with headers at once.
    if (--this.pending === 0 && !this.synced) {
      this.synced = true;
      this.syncedAtMs = wallNow();
      this.sink.onSynced(this);
    }
  }

  private fail(why: string): void {
    if (this.gone) return;
    this.destroy();
    this.sink.onFailed(this, why);
  }
}
