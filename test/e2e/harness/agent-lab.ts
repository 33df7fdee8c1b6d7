// Lab pieces the agent e2e adds to a Lab: pods' node-side veths renamed to the names the
// converter gives their workload endpoints, and a metadata server inside the lab.

import { POD_GATEWAY } from './addressing.js';
import type { Cleanup } from './cleanup.js';
import { exec } from './exec.js';
import { startListener } from './probe.js';
import type { Lab, LabNode, LabPod } from './topology.js';

/** The cloud metadata address the seed lab's security tier blocks. */
export const METADATA = '169.254.169.254';

/**
 * A metadata server inside the lab: a namespace holding 169.254.169.254/32, attached to `node` by a
 * veth whose node side is not a workload interface (no `cali` prefix: Felix leaves it alone, as it
 * would a real metadata service outside the cluster). The node routes the /32 to the veth and
 * answers the server's 169.254.1.1 gateway by proxy-ARP; every other node routes it via `node`.
 * It listens on TCP 80. Returns its namespace (under the lab's prefix, tracked by `cleanup`).
 */
export async function addMetadataServer(lab: Lab, node: LabNode, cleanup: Cleanup): Promise<string> {
  const ns = `${lab.prefix}meta`;
  cleanup.trackNamespace(ns);
  await exec('ip', ['netns', 'add', ns]);
  await exec('ip', [
    'link',
    'add',
    'eth0',
    'netns',
    ns,
    'type',
    'veth',
    'peer',
    'name',
    'meta0',
    'netns',
    node.ns,
  ]);
  await exec('ip', ['-n', ns, '-batch', '-'], {
    input: `${[
      'link set lo up',
      `addr add ${METADATA}/32 dev eth0`,
      'link set eth0 up',
      `route add ${POD_GATEWAY} dev eth0 scope link`,
      `route add default via ${POD_GATEWAY} dev eth0`,
    ].join('\n')}\n`,
  });
  await node.exec('sysctl', [
    '-q',
    '-w',
    'net.ipv4.conf.meta0.proxy_arp=1',
    'net.ipv4.neigh.meta0.proxy_delay=0',
  ]);
  await exec('ip', ['-n', node.ns, '-batch', '-'], {
    input: `link set meta0 up\nroute add ${METADATA}/32 dev meta0 scope link\n`,
  });
  for (const other of lab.nodes.filter((n) => n !== node))
    await exec('ip', ['-n', other.ns, 'route', 'add', `${METADATA}/32`, 'via', node.ip, 'dev', other.iface]);
  await startListener(ns, 'tcp', 80, cleanup);
  return ns;
}

/** Renames a pod's node-side veth to `name`, keeping its /32 route (a link going down drops it). */
export async function renameHostIface(pod: LabPod, name: string): Promise<void> {
  await exec('ip', ['-n', pod.node.ns, '-batch', '-'], {
    input: `${[
      `link set ${pod.hostIface} down`,
      `link set ${pod.hostIface} name ${name}`,
      `link set ${name} up`,
      `route replace ${pod.ip}/32 dev ${name} scope link`,
    ].join('\n')}\n`,
  });
}
