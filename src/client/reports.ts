// What a client reports upstream (proto/PROTOCOL.md §15): the latest value per kind, sent
// after every SERVER_HELLO that accepts the kind and whenever it changes while connected.
// Re-sending on each connection is what makes a server restart or a move to another
// replica harmless; the server treats an unchanged value as a no-op.

import type { JsonValue } from '../model/types.js';
import { encodeMessage } from '../protocol/codec.js';
import { MsgType } from '../protocol/messages.js';
import { parseWireguardPublicKeyData, ReportKind } from '../protocol/reports.js';

export class ClientReports {
  private readonly latest = new Map<string, JsonValue>();
  /** Kinds the current connection's server accepts; empty while disconnected. */
  private accepted: ReadonlySet<string> = new Set();

  constructor(private readonly node: string) {}

  /**
   * Stores `data` as the latest value of `kind`; returns the frame to send now if the
   * current server accepts the kind. Throws ReportError for data the server would refuse.
   */
  set(kind: string, data: JsonValue): Buffer | undefined {
    if (kind === ReportKind.WireguardPublicKey) parseWireguardPublicKeyData(data);
    this.latest.set(kind, structuredClone(data));
    return this.accepted.has(kind) ? this.frame(kind, data) : undefined;
  }

  get(kind: string): JsonValue | undefined {
    return this.latest.get(kind);
  }

  /** A new connection's SERVER_HELLO: the frames of every stored kind it accepts. */
  connected(serverKinds: readonly string[] | undefined): Buffer[] {
    this.accepted = new Set(serverKinds ?? []);
    const out: Buffer[] = [];
    for (const [kind, data] of this.latest) if (this.accepted.has(kind)) out.push(this.frame(kind, data));
    return out;
  }

  /** Kinds holding a value that the current connection's server does not accept. */
  unaccepted(): string[] {
    return [...this.latest.keys()].filter((k) => !this.accepted.has(k));
  }

  disconnected(): void {
    this.accepted = new Set();
  }

  private frame(kind: string, data: JsonValue): Buffer {
    return encodeMessage({ type: MsgType.Report, body: { kind, node: this.node, data } });
  }
}
