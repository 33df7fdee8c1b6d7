// Who a TLS client is, from its verified certificate, never from what it says. The operator
// lists the subjects it admits (certificate Common Names and URI SANs). An entry may hold one
// placeholder: `{node}` stands for a node name (`system:node:{node}`,
// `spiffe://cluster.local/node/{node}`), `{pod}` for the name of the agent's pod
// (`spiffe://cluster.local/ns/tabby-system/pod/{pod}`, what cert-manager's csi-driver can
// issue). What it matched becomes the connection's identity: the node it may report about,
// directly or through the node the API server placed that pod on.

import type { PeerCertificate } from 'node:tls';

/** RFC 1123 subdomain, as Kubernetes node names are. */
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export interface PeerIdentity {
  /** What admitted it: `CN=<name>` or the URI SAN. */
  readonly subject: string;
  /** The node it is, when a `{node}` entry matched. */
  readonly node?: string;
  /** The agent pod it is (name; the namespace is the operator's), when a `{pod}` entry matched. */
  readonly pod?: string;
}

type Placeholder = 'node' | 'pod' | undefined;

interface Pattern {
  readonly prefix: string;
  readonly suffix: string;
  readonly placeholder: Placeholder;
}

function compile(entry: string, flag: string): Pattern {
  if (entry.length === 0) throw new RangeError(`${flag}: empty entry`);
  const m = /\{(node|pod)\}/.exec(entry);
  if (!m) {
    if (/[{}*]/.test(entry))
      throw new RangeError(`${flag}: "${entry}": the only placeholders are {node} and {pod}`);
    return { prefix: entry, suffix: '', placeholder: undefined };
  }
  const prefix = entry.slice(0, m.index);
  const suffix = entry.slice(m.index + m[0].length);
  if (/[{}*]/.test(prefix + suffix))
    throw new RangeError(`${flag}: "${entry}" has more than one placeholder`);
  return { prefix, suffix, placeholder: m[1] as Placeholder };
}

/** The name the placeholder matched, '' for an exact match, undefined for no match. */
function match(p: Pattern, value: string): string | undefined {
  if (p.placeholder === undefined) return value === p.prefix ? '' : undefined;
  if (value.length <= p.prefix.length + p.suffix.length) return undefined;
  if (!value.startsWith(p.prefix) || !value.endsWith(p.suffix)) return undefined;
  const name = value.slice(p.prefix.length, value.length - p.suffix.length);
  // Node and pod names are both RFC 1123 subdomains.
  return name.length <= 253 && NODE_NAME.test(name) ? name : undefined;
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
   * match admits).
   */
  identify(cert: PeerCertificate): IdentityResult {
    const cn = typeof cert.subject?.CN === 'string' ? cert.subject.CN : undefined;
    if (this.open) return { ok: true, identity: { subject: cn ? `CN=${cn}` : 'certificate' } };
    const hits: PeerIdentity[] = [];
    const hit = (p: Pattern, value: string, subject: string) => {
      const name = match(p, value);
      if (name === undefined) return;
      hits.push(p.placeholder && name ? { subject, [p.placeholder]: name } : { subject });
    };
    if (cn !== undefined) for (const p of this.cns) hit(p, cn, `CN=${cn}`);
    for (const uri of uriSans(cert)) for (const p of this.uris) hit(p, uri, uri);
    if (hits.length === 0)
      return {
        ok: false,
        why: `certificate CN=${cn ?? '(none)'} and its URI SANs match no allowed client name`,
      };
    // A certificate that names two nodes or pods would let its holder speak for either.
    const named = new Set(hits.flatMap((h) => (h.node ? [`node ${h.node}`] : h.pod ? [`pod ${h.pod}`] : [])));
    if (named.size > 1)
      return { ok: false, why: `certificate names more than one identity (${[...named].join(', ')})` };
    return { ok: true, identity: hits.find((h) => h.node || h.pod) ?? hits[0]! };
  }
}
