// A lab node's BIRD part as the agent runs it: BIRD 2 supervised in the node's namespace,
// configured through the driver from the bgp stream's model with the lab's fast timers.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BirdDriver } from '../../../src/agent/dataplane/bird/driver.js';
import { BirdDataplane } from '../../../src/agent/dataplane/bird/manager.js';
import { BirdProcess } from '../../../src/agent/dataplane/bird/process.js';
import { FAST_TIMERS } from '../../../src/agent/dataplane/bird/render.js';
import { silentLogger } from '../../../src/model/logger.js';
import type { LabNode } from './topology.js';

export interface BirdNode {
  readonly bird: BirdDataplane;
  readonly proc: BirdProcess;
  /** BIRD's control socket. */
  readonly socket: string;
  /** The node's own directory under `dir` (config, socket). */
  readonly nodeDir: string;
}

export async function birdNode(node: LabNode, dir: string): Promise<BirdNode> {
  const nodeDir = join(dir, node.name);
  await mkdir(nodeDir, { recursive: true });
  const configPath = join(nodeDir, 'bird.conf');
  const socket = join(nodeDir, 'bird.ctl');
  const proc = new BirdProcess({
    configPath,
    socketPath: socket,
    execPrefix: ['ip', 'netns', 'exec', node.ns],
  });
  const driver = new BirdDriver({ configPath, socketPath: socket, process: proc });
  const bird = new BirdDataplane({
    node: node.name,
    driver,
    render: { timers: FAST_TIMERS },
    log: silentLogger,
  });
  return { bird, proc, socket, nodeDir };
}
