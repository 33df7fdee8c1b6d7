// The lab's address plan. Every address below exists only inside the lab's own namespaces, so
// concurrent labs may reuse it freely; none of it is ever configured in the host namespace.

/** The L2 underlay between nodes: a bridge in the fabric namespace. */
export const UNDERLAY_CIDR = '10.250.0.0/24';
/** The fabric bridge's own address: every node's default gateway, a sink that forwards nothing. */
export const FABRIC_GATEWAY = '10.250.0.1';
/** Calico's pod-side gateway, answered by proxy-ARP on the node's `cali*` interface. */
export const POD_GATEWAY = '169.254.1.1';
/** Pod addresses: one /26 block per node, as Calico's IPAM hands out by default. */
export const POD_POOL_CIDR = '10.251.0.0/16';

export const MAX_NODES = 200;
export const MAX_PODS_PER_NODE = 62;

export function nodeIp(node: number): string {
  return `10.250.0.${10 + node}`;
}

export function podBlock(node: number): string {
  return `10.251.${node}.0/26`;
}

export function podIp(node: number, pod: number): string {
  return `10.251.${node}.${pod + 1}`;
}
