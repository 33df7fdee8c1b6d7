// One shape per agent part: every part of the node agent is a folder under
// src/agent/dataplane with a manager (sync from the desired state, the contract the runtime
// drives), a pure render, a driver and the shim the driver reaches the OS through. The
// dependency rules (render-is-pure, os-through-shims, runtime-takes-parts,
// dataplane-below-the-agent, agent-parts-in-folders) say what each role may import; this
// test says which files play the roles, so a new part or a new folder has to take the shape.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const DATAPLANE = join(import.meta.dirname, '../../src/agent/dataplane');

interface Shape {
  /** The runtime contract the manager's class implements (runtime/parts.ts). */
  contract: 'PolicyDataplane' | 'RoutingPart';
  /** The class manager.ts exports. */
  manager: string;
  /** The pure module(s) the manager renders desired state through (none: it writes files itself). */
  render: readonly string[];
  /** The module(s) that change the node. */
  driver: readonly string[];
  /** What the drivers reach the OS through. */
  shim: readonly string[];
}

const PARTS: Record<string, Shape> = {
  iptables: {
    contract: 'PolicyDataplane',
    manager: 'IptablesDataplane',
    render: ['render.ts', 'translate.ts', 'restore.ts'],
    driver: ['driver.ts'],
    shim: ['../exec-shim.ts'],
  },
  nftables: {
    contract: 'PolicyDataplane',
    manager: 'NftablesDataplane',
    render: ['render.ts', 'translate.ts'],
    driver: ['driver.ts'],
    shim: ['../exec-shim.ts'],
  },
  bpf: {
    contract: 'PolicyDataplane',
    manager: 'BpfDataplane',
    // The maps compiler (../maps) and, per endpoint, its encoding and the map writes.
    render: ['incremental.ts', 'encode.ts', 'host-stages.ts', 'plan.ts'],
    driver: ['driver.ts'],
    shim: ['../exec-shim.ts'],
  },
  'dry-run': {
    contract: 'PolicyDataplane',
    manager: 'DryRunDataplane',
    render: [],
    driver: [],
    shim: [],
  },
  bird: {
    contract: 'RoutingPart',
    manager: 'BirdDataplane',
    render: ['render.ts', 'render-filters.ts'],
    driver: ['driver.ts'],
    // BIRD's control socket, and the bird daemon when the agent runs it (--bird-run).
    shim: ['birdc.ts', 'process.ts'],
  },
  routes: {
    contract: 'RoutingPart',
    manager: 'RouteDataplane',
    render: ['ip-route.ts'],
    driver: ['driver.ts'],
    shim: ['../exec-shim.ts'],
  },
  wireguard: {
    contract: 'RoutingPart',
    manager: 'WireguardDataplane',
    render: ['conf.ts'],
    // The device, the link/routes/rule around it and the key file, by concern.
    driver: ['device.ts', 'netlink.ts', 'keys.ts'],
    shim: ['shim.ts'],
  },
};

/** Folders under dataplane that are shared libraries of the parts, not parts. */
const SHARED = ['rules', 'maps'];

describe('agent shape', () => {
  it('src/agent is its runtime, its calc and its dataplane parts, nothing at its root', () => {
    const root = join(DATAPLANE, '..');
    expect(readdirSync(root).sort()).toEqual(['calc', 'dataplane', 'runtime']);
  });

  it('every folder under dataplane is a part of the table or a shared library', () => {
    const folders = readdirSync(DATAPLANE).filter((f) => statSync(join(DATAPLANE, f)).isDirectory());
    expect(folders.sort()).toEqual([...Object.keys(PARTS), ...SHARED].sort());
  });

  for (const [part, shape] of Object.entries(PARTS)) {
    it(`${part}: manager.ts implements ${shape.contract}; its render, driver and shim files exist`, async () => {
      const dir = join(DATAPLANE, part);
      for (const f of ['manager.ts', ...shape.render, ...shape.driver, ...shape.shim])
        expect(existsSync(join(dir, f)), `${part}/${f}`).toBe(true);
      const mod = (await import(join(dir, 'manager.ts'))) as Record<string, unknown>;
      const cls = mod[shape.manager] as { prototype: Record<string, unknown> } | undefined;
      expect(typeof cls, `${part}/manager.ts exports ${shape.manager}`).toBe('function');
      // The contract's one required method; `name` is an instance field, checked by the types.
      expect(typeof cls!.prototype['sync']).toBe('function');
      // Declared, so the compiler holds the manager to the contract (the table-based policy
      // managers through RenderingDataplane, which implements PolicyDataplane).
      const src = readFileSync(join(dir, 'manager.ts'), 'utf8');
      const declares = new RegExp(
        `class ${shape.manager}\\b[^{]*(implements ${shape.contract}\\b|extends RenderingDataplane<)`,
      );
      expect(src).toMatch(declares);
    });
  }
});
