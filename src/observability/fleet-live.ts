// Streams the fleet view to the live page's WebSockets: a full list when a viewer joins,
// then once a second only the agents that appeared, changed or left. One report and one
// encoded message per tick serve every viewer. A viewer that does not read (bufferedAmount
// over the limit) is skipped and sent a full list once it has caught up; viewers are capped,
// and a WebSocket from another site's page is refused (the data names every node).

import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { AgentRow, FleetReport } from './fleet.js';
import { FLEET_WS_PATH } from './fleet-page.js';

export interface FleetLiveOptions {
  intervalMs?: number;
  maxViewers?: number;
  /** Bytes a viewer may have unread before it is skipped. */
  maxBufferedBytes?: number;
  /** Ticks between pings; a viewer that did not answer the last one is dropped. */
  pingEveryTicks?: number;
}

interface Viewer {
  stale: boolean;
  alive: boolean;
}

export class FleetLive {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1024, perMessageDeflate: false });
  private readonly viewers = new Map<WebSocket, Viewer>();
  /** id → JSON of each agent row as last broadcast: the base of the next diff. */
  private rows = new Map<number, string>();
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private readonly o: Required<FleetLiveOptions>;

  constructor(
    private readonly fleet: { report(opts: { agents: true }): FleetReport },
    opts: FleetLiveOptions = {},
  ) {
    this.o = { intervalMs: 1_000, maxViewers: 16, maxBufferedBytes: 4 << 20, pingEveryTicks: 15, ...opts };
  }

  /** Takes over WebSocket upgrades on FLEET_WS_PATH of this HTTP server; others are refused. */
  attach(http: Server): void {
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    );
    // An upgraded socket is no HTTP connection any more, yet http.close() waits for it: the
    // viewers are ended when the server is closed, or closing would wait for them forever.
    const closeHttp = http.close.bind(http);
    http.close = (callback?: (err?: Error) => void) => {
      this.close();
      return closeHttp(callback);
    };
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const refusal =
      (req.url ?? '').split('?')[0] !== FLEET_WS_PATH
        ? '404 Not Found'
        : !sameOrigin(req)
          ? '403 Forbidden'
          : this.viewers.size >= this.o.maxViewers
            ? '503 Service Unavailable'
            : undefined;
    if (refusal) socket.end(`HTTP/1.1 ${refusal}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    else this.wss.handleUpgrade(req, socket, head, (ws) => this.add(ws));
  }

  private add(ws: WebSocket): void {
    const first = this.viewers.size === 0;
    const viewer: Viewer = { stale: false, alive: true };
    this.viewers.set(ws, viewer);
    ws.on('pong', () => {
      viewer.alive = true;
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      this.viewers.delete(ws);
      if (this.viewers.size === 0) this.stopTimer();
    });
    const report = this.fleet.report({ agents: true });
    if (first) this.rows = rowMap(report.agents!);
    ws.send(fullMessage(report));
    if (first) {
      this.timer = setInterval(() => this.tick(), this.o.intervalMs);
      this.timer.unref();
    }
  }

  /** One broadcast: the diff since the last tick to current viewers, a full list to caught-up stale ones. */
  tick(): void {
    const report = this.fleet.report({ agents: true });
    const next = rowMap(report.agents!);
    const upsert: AgentRow[] = [];
    for (const a of report.agents!) if (this.rows.get(a.id) !== next.get(a.id)) upsert.push(a);
    const remove = [...this.rows.keys()].filter((id) => !next.has(id));
    this.rows = next;
    const { agents: _, ...summary } = report;
    const diff = JSON.stringify({ full: false, report: summary, upsert, remove });
    let full: string | undefined;
    const ping = ++this.ticks % this.o.pingEveryTicks === 0;
    for (const [ws, v] of this.viewers) {
      if (ping) {
        if (!v.alive) {
          ws.terminate();
          continue;
        }
        v.alive = false;
        ws.ping();
      }
      if (ws.bufferedAmount > this.o.maxBufferedBytes) {
        v.stale = true; // what it missed is replaced by a full list once it reads again
        continue;
      }
      if (v.stale) {
        full ??= fullMessage(report);
        ws.send(full);
        v.stale = false;
      } else ws.send(diff);
    }
  }

  close(): void {
    this.stopTimer();
    for (const ws of this.viewers.keys()) ws.terminate();
    this.viewers.clear();
    this.wss.close();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

function rowMap(agents: readonly AgentRow[]): Map<number, string> {
  return new Map(agents.map((a) => [a.id, JSON.stringify(a)]));
}

function fullMessage(report: FleetReport): string {
  const { agents, ...summary } = report;
  return JSON.stringify({ full: true, report: summary, upsert: agents, remove: [] });
}

/** Browsers send Origin on WebSockets: a page of another site must not read the fleet. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true; // not a browser (tools, tests)
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
