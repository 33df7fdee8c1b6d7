// Request-level faults for fault tests and the soak, besides the whole-API ones ApiEmulator has
// (stop/pause, freeze, replaceStore, compact, dropWatches): 500s on a share of API requests,
// slow answers, and lists cut half way through their body. Health checks and /emulator/ hooks
// are never faulted, so that a test can always reach the emulator to end a fault.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { internalError } from './status.js';

export interface RequestFaultSettings {
  /** Every Nth API request (lists, watches, gets, writes) is answered 500 InternalError; 0: none. */
  failEvery: number;
  /** Every API request waits this long before it is served (an overloaded apiserver). */
  delayMs: number;
  /** The next N list responses are cut: half the body is written, then the connection is reset. */
  cutLists: number;
}

export interface RequestFaultCounts {
  failed: number;
  delayed: number;
  cutLists: number;
}

const NONE: Readonly<RequestFaultSettings> = Object.freeze({ failEvery: 0, delayMs: 0, cutLists: 0 });

type Serve = (req: IncomingMessage, res: ServerResponse) => void;

export class RequestFaults {
  private s: RequestFaultSettings = { ...NONE };
  private seen = 0;
  readonly counts: RequestFaultCounts = { failed: 0, delayed: 0, cutLists: 0 };

  /** Changes the given settings, keeps the others; a bad value throws and changes nothing. */
  set(partial: Partial<RequestFaultSettings>): void {
    const next = { ...this.s, ...partial };
    for (const [k, v] of Object.entries(next))
      if (!Number.isInteger(v) || v < 0)
        throw new RangeError(`request fault ${k} must be an integer >= 0, got ${v}`);
    this.s = next;
  }

  clear(): void {
    this.s = { ...NONE };
  }

  get settings(): Readonly<RequestFaultSettings> {
    return { ...this.s };
  }

  get active(): boolean {
    return this.s.failEvery > 0 || this.s.delayMs > 0 || this.s.cutLists > 0;
  }

  /** Serves `req` through whatever faults are set. */
  intercept(req: IncomingMessage, res: ServerResponse, serve: Serve): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!this.active || path.startsWith('/emulator/') || ['/healthz', '/livez', '/readyz'].includes(path)) {
      serve(req, res);
      return;
    }
    const go = () => {
      if (this.s.failEvery > 0 && ++this.seen % this.s.failEvery === 0) {
        this.counts.failed++;
        const body = JSON.stringify(internalError('injected fault').status);
        res.writeHead(500, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      if (this.s.cutLists > 0 && req.method === 'GET') this.cutIfList(res);
      serve(req, res);
    };
    if (this.s.delayMs > 0) {
      this.counts.delayed++;
      setTimeout(go, this.s.delayMs).unref();
    } else go();
  }

  /** Wraps res.end: a list body (`{"kind":"…List"`) goes out half written, then the socket is reset. */
  private cutIfList(res: ServerResponse): void {
    const end = res.end.bind(res) as (chunk?: unknown) => ServerResponse;
    res.end = ((chunk?: unknown) => {
      const body = typeof chunk === 'string' ? chunk : undefined;
      if (body === undefined || this.s.cutLists === 0 || !/^\{"kind":"[A-Za-z]+List"/.test(body))
        return end(chunk);
      this.s.cutLists--;
      this.counts.cutLists++;
      res.write(body.slice(0, Math.floor(body.length / 2)), () => res.socket?.resetAndDestroy());
      return res;
    }) as typeof res.end;
  }
}
