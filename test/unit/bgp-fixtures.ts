// Builders for the BGP model and BIRD renderer tests: Kubernetes-shaped objects through the
// real converters into a RoutingState, and the `bird -p` parse check with its preflight.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RoutingState } from '../../src/agent/calc/routing/state.js';
import { convertObject } from '../../src/datastore/convert/index.js';
import type { KubeObject } from '../../src/datastore/kube/object.js';
import type { KV } from '../../src/model/types.js';

const CRD = 'crd.projectcalico.org/v1';

export interface NodeOpts {
  readonly asn?: number;
  readonly rr?: string;
  readonly labels?: Record<string, string>;
  readonly wireguardIp?: string;
}

export function node(name: string, ip: string | undefined, o: NodeOpts = {}): KubeObject {
  const annotations: Record<string, string> = {};
  if (ip !== undefined) annotations['projectcalico.org/IPv4Address'] = `${ip}/24`;
  if (o.asn !== undefined) annotations['projectcalico.org/ASNumber'] = String(o.asn);
  if (o.rr !== undefined) annotations['projectcalico.org/RouteReflectorClusterID'] = o.rr;
  if (o.wireguardIp !== undefined)
    annotations['projectcalico.org/IPv4WireguardInterfaceAddr'] = o.wireguardIp;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...o.labels }, annotations },
    spec: {},
    status: { addresses: ip ? [{ type: 'InternalIP', address: ip }] : [] },
  } as KubeObject;
}

export const crd = (kind: string, name: string, spec: unknown): KubeObject =>
  ({ apiVersion: CRD, kind, metadata: { name }, spec }) as KubeObject;

export const bgpConfig = (name: string, spec: Record<string, unknown>) => crd('BGPConfiguration', name, spec);
export const bgpPeer = (name: string, spec: Record<string, unknown>) => crd('BGPPeer', name, spec);
export const pool = (name: string, cidr: string, extra: Record<string, unknown> = {}) =>
  crd('IPPool', name, {
    cidr,
    blockSize: 26,
    ipipMode: 'Never',
    vxlanMode: 'Never',
    natOutgoing: true,
    ...extra,
  });
export const affinity = (nodeName: string, cidr: string, state = 'confirmed') =>
  crd('BlockAffinity', `${nodeName}-${cidr.replace(/[./]/g, '-')}`, {
    node: nodeName,
    cidr,
    state,
    deleted: 'false',
  });

export const kvsOf = (objects: readonly KubeObject[]): KV[] => objects.flatMap((o) => convertObject(o));

export function stateOf(objects: readonly KubeObject[], extra: readonly KV[] = []): RoutingState {
  const s = new RoutingState();
  const u = s.apply([...kvsOf(objects), ...extra]);
  if (u.invalid.length > 0) throw new Error(`invalid keys: ${u.invalid.join(', ')}`);
  return s;
}

/** Why `bird -p` cannot run here, or undefined. */
export function birdMissing(): string | undefined {
  const r = spawnSync('bird', ['--version'], { encoding: 'utf8' });
  if (r.error)
    return `bird (bird2) is not installed: ${r.error.message} (run scripts/system-deps.sh as root)`;
  return undefined;
}

export interface ParseResult {
  readonly ok: boolean;
  readonly message: string;
}

/** Writes the text to a temporary file and runs `bird -p -c FILE` (parse only). */
export function birdParse(text: string): ParseResult {
  const dir = mkdtempSync(path.join(tmpdir(), 'tabby-bird-render-'));
  try {
    const file = path.join(dir, 'bird.conf');
    writeFileSync(file, text);
    const r = spawnSync('bird', ['-p', '-c', file], { encoding: 'utf8' });
    const message = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim();
    return { ok: r.status === 0, message };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
