// Who a TLS client is, from its verified certificate, never from what it says. The operator
// lists the subjects it admits (certificate Common Names and URI SANs); an entry may hold one
// `*` that stands for a node name (`system:node:*`, `spiffe://cluster.local/node/*`), and the
// node it matched becomes the connection's node identity: the only node it may report about.

import type { PeerCertificate } from 'node:tls';

/** RFC 1123 subdomain, as Kubernetes node names are. */
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export interface PeerIdentity {
  /** What admitted it: `CN=<name>` or the URI SAN. */
  readonly subject: string;
  /** The node it is, when an allow-list entry with `*` matched; otherwise a shared identity. */
  readonly node: string | undefined;
}

interface Pattern {
  readonly prefix: string;
  readonly suffix: string;
  readonly wildcard: boolean;
}

function compile(entry: string, flag: string): Pattern {
  const parts = entry.split('*');
  if (parts.length > 2) throw new RangeError(`${flag}: "${entry}" has more than one '*'`);
  if (entry.length === 0) throw new RangeError(`${flag}: empty entry`);
  return { prefix: parts[0]!, suffix: parts[1] ?? '', wildcard: parts.length === 2 };
}

/** The node name the pattern's `*` matched, '' for an exact match, undefined for no match. */
function match(p: Pattern, value: string): string | undefined {
  if (!p.wildcard) return value === p.prefix ? '' : undefined;
  if (value.length <= p.prefix.length + p.suffix.length) return undefined;
  if (!value.startsWith(p.prefix) || !value.endsWith(p.suffix)) return undefined;
  const node = value.slice(p.prefix.length, value.length - p.suffix.length);
  return node.length <= 253 && NODE_NAME.test(node) ? node : undefined;
}

/** URI SANs of a peer certificate (Node renders them as `URI:…` in `subjectaltname`). */
export function uriSans(cert: PeerCertificate): string[] {
  const san = cert.subjectaltname;
  if (!san) return [];
  // Entries are ", "-separated; a URI cannot contain a raw space, so the split is exact.
  return san
    .split(', ')
    .filter((e) => e.startsWith('URI:'))
    .map((e) => e.slice(4));
}

export type IdentityResult = { ok: true; identity: PeerIdentity } | { ok: false; why: string };

export class IdentityPolicy {
  private readonly cns: Pattern[];
  private readonly uris: Pattern[];

  constructor(allowedCns: readonly string[], allowedUriSans: readonly string[]) {
    this.cns = allowedCns.map((e) => compile(e, 'allowed client CNs'));
    this.uris = allowedUriSans.map((e) => compile(e, 'allowed client URI SANs'));
  }

  /** No allow-list: any certificate the client CA signed is admitted, with no node identity. */
  get open(): boolean {
    return this.cns.length === 0 && this.uris.length === 0;
  }

  /**
   * Admits a verified certificate when its CN or one of its URI SANs matches an entry (any
   * match admits). Matches that name two different nodes are refused: the certificate would
   * let its holder speak for either.
   */
  identify(cert: PeerCertificate): IdentityResult {
    const cn = typeof cert.subject?.CN === 'string' ? cert.subject.CN : undefined;
    if (this.open)
      return { ok: true, identity: { subject: cn ? `CN=${cn}` : 'certificate', node: undefined } };
    const hits: PeerIdentity[] = [];
    if (cn !== undefined)
      for (const p of this.cns) {
        const node = match(p, cn);
        if (node !== undefined) hits.push({ subject: `CN=${cn}`, node: node || undefined });
      }
    for (const uri of uriSans(cert))
      for (const p of this.uris) {
        const node = match(p, uri);
        if (node !== undefined) hits.push({ subject: uri, node: node || undefined });
      }
    if (hits.length === 0)
      return {
        ok: false,
        why: `certificate CN=${cn ?? '(none)'} and its URI SANs match no allowed client name`,
      };
    const nodes = new Set(hits.flatMap((h) => (h.node ? [h.node] : [])));
    if (nodes.size > 1)
      return { ok: false, why: `certificate names more than one node (${[...nodes].join(', ')})` };
    return { ok: true, identity: hits.find((h) => h.node) ?? hits[0]! };
  }
}
