// REPORT kinds (proto/PROTOCOL.md §15): their names and the checks on their `data`, shared
// by the client (which must not send what the server would refuse) and the server (which
// must not trust what a client sends). A check failing is not a protocol error: the server
// ignores the report and counts it, the connection goes on (§15.3).

import { wireCode } from '../errors/codes.js';
import { TabbyError } from '../errors/tabby-error.js';
import type { JsonValue } from '../model/types.js';

export const ReportKind = {
  /** data: {publicKey: "<base64 of 32 bytes>" | null}; null = the node has no key. */
  WireguardPublicKey: 'wireguard-public-key',
} as const;
export type ReportKind = (typeof ReportKind)[keyof typeof ReportKind];

export const REPORT_KINDS: readonly ReportKind[] = Object.values(ReportKind);
export const isReportKind = (k: string): k is ReportKind => (REPORT_KINDS as readonly string[]).includes(k);

/** Why a report was refused; also the `result` label of tabby_reports_total. */
export const ReportRefusal = {
  UnsupportedKind: 'unsupported-kind',
  InvalidData: 'invalid-data',
  WrongNode: 'wrong-node',
  InvalidNode: 'invalid-node',
  RateLimited: 'rate-limited',
  /** The connection has no authenticated identity and the server does not trust HELLO's hostname. */
  Unauthenticated: 'unauthenticated',
} as const;
export type ReportRefusal = (typeof ReportRefusal)[keyof typeof ReportRefusal];

export class ReportError extends TabbyError {
  constructor(
    readonly refusal: ReportRefusal,
    message: string,
  ) {
    super(wireCode('TABBY_ERR_REPORT', refusal), message);
  }
}

export interface WireguardPublicKeyData {
  publicKey: string | null;
}

/**
 * Canonical standard base64 of exactly 32 bytes: 43 characters and one '='. The last
 * character before '=' carries 4 bits of padding that must be zero, so each key has one
 * spelling and "same value" comparisons (skip an unchanged patch) are string equality.
 */
const WG_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

export const isWireguardPublicKey = (s: string): boolean => WG_KEY.test(s);

/** Checks the data of a `wireguard-public-key` report; throws ReportError(invalid-data). */
export function parseWireguardPublicKeyData(data: JsonValue): WireguardPublicKeyData {
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new ReportError(ReportRefusal.InvalidData, 'data must be a map {publicKey}');
  const key = data['publicKey'];
  if (key === null) return { publicKey: null };
  if (typeof key !== 'string')
    throw new ReportError(ReportRefusal.InvalidData, 'publicKey must be a string or nil');
  if (!isWireguardPublicKey(key))
    throw new ReportError(
      ReportRefusal.InvalidData,
      'publicKey must be the canonical base64 of 32 bytes (44 characters)',
    );
  return { publicKey: key };
}

/**
 * A Kubernetes node name: a DNS-1123 subdomain (lowercase alphanumerics, '-' and '.', at
 * most 253 characters). Reports are written under this name, so anything else is refused.
 */
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const isNodeName = (s: string): boolean => s.length <= 253 && NODE_NAME.test(s);
