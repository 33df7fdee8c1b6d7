// The BGP routing part: the node's BGP model (as confd computes it) rendered to a BIRD 2
// configuration and handed to the BIRD driver, which validates it with `bird -p` and reloads
// BIRD only when the text changed. BGP passwords come from mounted secret files, so the agent
// needs no Kubernetes credentials. Without a usable model (node unknown, no BGP address) BIRD
// keeps its last good configuration and the reason is logged once.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../../model/logger.js';
import { type BgpModel, type BgpOptions, computeBgp, type SecretRef } from '../../calc/routing/bgp.js';
import type { RoutingState } from '../../calc/routing/state.js';
import type { RoutingPart } from '../../runtime/parts.js';
import type { BirdApplyOutcome, BirdDriver } from './driver.js';
import { type BirdRenderOptions, renderBird } from './render.js';

export interface BirdDataplaneOptions {
  node: string;
  driver: BirdDriver;
  bgp?: BgpOptions;
  render?: Omit<BirdRenderOptions, 'passwords'>;
  /** Secrets mounted as `<dir>/<secret name>/<key>` (a Secret volume per BGP password secret). */
  secretsDir?: string;
  log: Logger;
}

const SAFE_NAME = /^[A-Za-z0-9._-]+$/;

/** Reads `<dir>/<name>/<key>`; undefined when absent or when the names could escape the dir. */
export function secretFileResolver(dir: string | undefined): (ref: SecretRef) => string | undefined {
  return (ref) => {
    if (dir === undefined || !SAFE_NAME.test(ref.name) || !SAFE_NAME.test(ref.key)) return undefined;
    if (ref.name.startsWith('.') || ref.key.startsWith('.')) return undefined;
    try {
      return readFileSync(join(dir, ref.name, ref.key), 'utf8').replace(/\r?\n$/, '');
    } catch {
      return undefined;
    }
  };
}

export class BirdDataplane implements RoutingPart {
  readonly name = 'bird';
  /** The model BIRD runs (after the last successful apply). */
  model: BgpModel | undefined;
  lastOutcome: BirdApplyOutcome | undefined;
  private readonly logged = new Set<string>();
  private readonly passwords: (ref: SecretRef) => string | undefined;

  constructor(private readonly o: BirdDataplaneOptions) {
    this.passwords = secretFileResolver(o.secretsDir);
  }

  async sync(state: RoutingState): Promise<void> {
    const m = computeBgp(state, this.o.node, this.o.bgp);
    const seen = new Set<string>();
    for (const w of m.warnings) {
      const id = `${w.code} ${w.resource ?? ''} ${w.message}`;
      seen.add(id);
      if (!this.logged.has(id)) this.o.log.warn({ code: w.code, resource: w.resource }, w.message);
    }
    if (!m.available) {
      const id = `unavailable ${m.message}`;
      seen.add(id);
      if (!this.logged.has(id)) this.o.log.warn({ reason: m.reason }, `${m.message}; BIRD left as it is`);
      this.logged.clear();
      for (const s of seen) this.logged.add(s);
      return;
    }
    const r = renderBird(m, { ...this.o.render, passwords: this.passwords });
    for (const p of r.passwordProblems) {
      const id = `password ${p.peer} ${p.ref.name}/${p.ref.key} ${p.problem}`;
      seen.add(id);
      if (!this.logged.has(id))
        this.o.log.warn(
          { peer: p.peer, secret: p.ref.name, key: p.ref.key, problem: p.problem },
          'BGP password secret not readable: peer configured without it',
        );
    }
    this.logged.clear();
    for (const s of seen) this.logged.add(s);
    this.lastOutcome = await this.o.driver.apply(r.text);
    this.model = m;
  }
}
