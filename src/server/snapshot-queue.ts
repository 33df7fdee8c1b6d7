// The server's side of snapshot admission (admission.ts) for real connections: it starts a
// client's snapshot when the admission says so, notices when the socket has taken it (the
// slot is then free), and tells waiting clients that asked for it (HELLO capability
// "queued") where they stand with QUEUED frames (proto/PROTOCOL.md §9.1).

import { encodeMessage } from '../protocol/codec.js';
import { Capability, MsgType } from '../protocol/messages.js';
import { type AdmissionOptions, type QueuePlace, SnapshotAdmission } from './admission.js';
import type { Connection } from './connection.js';

/** A waiting client hears of a new place at most this often. */
export const QUEUE_NOTICE_INTERVAL_MS = 1_000;

interface Notice {
  position: number;
  atMs: number;
}

export class SnapshotQueue {
  readonly admission: SnapshotAdmission<Connection>;
  /** Waiting clients that asked for QUEUED, with the last place they were told. */
  private readonly told = new Map<Connection, Notice>();

  constructor(
    opts: AdmissionOptions,
    /** Starts the client's snapshot (the server's capped write). */
    start: (conn: Connection) => void,
    /** The server's capped write: false when it closed the connection instead. */
    private readonly send: (conn: Connection, frames: readonly Buffer[]) => boolean,
  ) {
    this.admission = new SnapshotAdmission<Connection>(opts, (conn) => {
      this.told.delete(conn);
      start(conn);
    });
  }

  /** A snapshot is due for `conn`: it starts now, or waits (told so if it asked). */
  request(conn: Connection, capabilities: readonly string[] | undefined): void {
    if (!this.admission.request(conn)) return;
    if (capabilities?.includes(Capability.Queued)) {
      const place = this.admission.place(this.admission.queued); // a newcomer is last in line
      this.told.set(conn, { position: place.position, atMs: Date.now() });
      this.send(conn, [queuedFrame(place)]);
    }
  }

  waiting(conn: Connection): boolean {
    return this.admission.isWaiting(conn);
  }

  /** The snapshot's frames were written: charge them, and free the slot if the socket took them all. */
  wrote(conn: Connection, bytes: number): void {
    this.admission.charge(bytes);
    this.drained(conn);
  }

  /** The socket has nothing left queued: a snapshot being written is done. */
  drained(conn: Connection): void {
    if (conn.socket.writableLength === 0 && this.admission.isWriting(conn)) this.admission.finished(conn);
  }

  forget(conn: Connection): void {
    this.told.delete(conn);
    this.admission.forget(conn);
  }

  /** Every tick: slots whose sockets drained without a 'drain' event, and new places. */
  tick(now: number): void {
    for (const c of [...this.admission.writers()]) this.drained(c);
    this.notify(now);
  }

  /** Empties the queue (drain, shutdown): the caller says goodbye to each. */
  releaseAll(): Connection[] {
    this.told.clear();
    return this.admission.releaseAll();
  }

  /** Sends QUEUED to clients that asked, when their place changed (at most once per interval each). */
  private notify(now: number): void {
    if (this.told.size === 0) return;
    for (const [conn, place] of this.admission.places()) {
      const last = this.told.get(conn);
      if (last === undefined) continue;
      if (last.position === place.position || now - last.atMs < QUEUE_NOTICE_INTERVAL_MS) continue;
      if (conn.socket.writableNeedDrain) continue; // it is not reading: a notice would only queue
      this.told.set(conn, { position: place.position, atMs: now });
      this.send(conn, [queuedFrame(place)]);
    }
  }
}

function queuedFrame(place: QueuePlace): Buffer {
  return encodeMessage({ type: MsgType.Queued, body: place });
}
