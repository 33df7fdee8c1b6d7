// Per-Service /32 routes a node advertises, after confd's route generator
// (confd/pkg/backends/calico/routes.go: advertiseThisService, getAllRoutesForService): a
// Service with externalTrafficPolicy Local and a ready endpoint on this node, or a Cluster
// Service with a single allowed LoadBalancer or external IP (or, with LoadBalancer
// aggregation disabled, any endpoint), is advertised from this node as /32s of its cluster
// IPs (when serviceClusterIPs is set) and of its allowed external and LoadBalancer IPs.
// IPv4 only, like the BIRD renderer. Endpoints whose ready condition is false do not count.
// Services and slices arrive parsed (model/values/service.ts, through RoutingState).

import { type Cidr, cidrContains, parseNet } from '../../../model/net/cidr.js';
import { parseIp } from '../../../model/net/ip.js';
import type { EndpointSliceValue, ServiceValue } from '../../../model/values/service.js';

const ADVERTISED_TYPES = new Set(['ClusterIP', 'NodePort', 'LoadBalancer']);
const familyOf = (ip: string): string => (ip.includes(':') ? 'IPv6' : 'IPv4');
const within = (ip: string, nets: readonly Cidr[]): boolean => {
  const addr = parseIp(ip, 'lenient');
  return addr !== undefined && nets.some((n) => cidrContains(n, addr));
};

/** The BGPConfiguration service ranges and aggregation switch (from the `default` one). */
export interface ServiceAdvertisement {
  readonly clusterIPs: readonly string[];
  readonly externalIPs: readonly string[];
  readonly loadBalancerIPs: readonly string[];
  readonly aggregateLoadBalancers: boolean;
}
const nets = (cidrs: readonly string[]): Cidr[] => cidrs.flatMap((c) => parseNet(c) ?? []);

/** The /32s this node advertises for individual Services, sorted. */
export function serviceAddressRoutes(
  services: ReadonlyMap<string, ServiceValue>,
  slicesByService: ReadonlyMap<string, readonly EndpointSliceValue[]>,
  node: string,
  config: ServiceAdvertisement,
): string[] {
  const clusterRanges = nets(config.clusterIPs);
  const externalRanges = nets(config.externalIPs);
  const lbRanges = nets(config.loadBalancerIPs);
  const single = (ranges: Cidr[]) => ranges.filter((r) => r.prefix === (r.version === 4 ? 32 : 128));
  const aggregate = config.aggregateLoadBalancers;
  const out = new Set<string>();
  for (const [id, svc] of services) {
    if (!ADVERTISED_TYPES.has(svc.type) || svc.clusterIPs.length === 0) continue;
    const local = svc.externalTrafficPolicy === 'Local';
    let advertise =
      svc.externalTrafficPolicy === 'Cluster' &&
      ((svc.type === 'LoadBalancer' && svc.loadBalancerIPs.some((ip) => within(ip, single(lbRanges)))) ||
        svc.externalIPs.some((ip) => within(ip, single(externalRanges))));
    if (!advertise && (local || !aggregate)) {
      const families = new Set(svc.clusterIPs.map(familyOf));
      advertise = (slicesByService.get(id) ?? []).some(
        (s) =>
          families.has(s.addressType) && s.endpoints.some((e) => e.ready && (!local || e.nodeName === node)),
      );
    }
    if (!advertise) continue;
    const ips = [
      ...(clusterRanges.length > 0 ? svc.clusterIPs : []),
      ...svc.externalIPs.filter((ip) => within(ip, externalRanges)),
      ...svc.loadBalancerIPs.filter((ip) => within(ip, lbRanges)),
    ];
    for (const ip of ips) if (!ip.includes(':')) out.add(`${ip}/32`);
  }
  return [...out].sort();
}
