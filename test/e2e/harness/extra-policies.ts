// Policies and objects that the iptables and nftables lab e2e add on top of the seed lab to
// exercise rule encodings: OR groups, named ports and service matches. Each is a security-tier
// GlobalNetworkPolicy (order 5) on frontend's egress that ends in Pass, so what it does not
// decide falls through to the lab's own tiers.

import type { KubeObject } from '../../../src/datastore/kube/object.js';

const frontendEgress = (name: string, egress: unknown[]): KubeObject =>
  ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name },
    spec: { tier: 'security', order: 5, selector: 'app == "frontend"', types: ['Egress'], egress },
  }) as unknown as KubeObject;

/** Deny to 16 ports (two multiport chunks / one anonymous set) on two nets minus a notNet. */
export const orGroupsPolicy = (api2Ip: string, dbIp: string): KubeObject =>
  frontendEgress('security.or-groups', [
    {
      action: 'Deny',
      protocol: 'TCP',
      destination: {
        nets: [`${api2Ip}/32`, `${dbIp}/32`, '192.0.2.0/24'],
        notNets: [`${dbIp}/32`, '192.0.2.7/32'],
        ports: Array.from({ length: 16 }, (_, i) => 65 + i),
      },
    },
    { action: 'Pass' },
  ]);

/** Deny to api's named port `http` (or 8081); allow to db's `http`. */
export const namedPortsPolicy = (): KubeObject =>
  frontendEgress('security.named-ports', [
    { action: 'Deny', protocol: 'TCP', destination: { selector: 'app == "api"', ports: ['http', 8081] } },
    { action: 'Allow', protocol: 'TCP', destination: { selector: 'app == "db"', ports: ['http'] } },
    { action: 'Pass' },
  ]);

/** Deny to the `backend/api` service: its EndpointSlice's addresses, on its ports. */
export const serviceDenyPolicy = (): KubeObject =>
  frontendEgress('security.deny-api-service', [
    { action: 'Deny', destination: { services: { name: 'api', namespace: 'backend' } } },
    { action: 'Pass' },
  ]);

/** The `backend/api` service's one EndpointSlice: these addresses, port 80/TCP. */
export const apiServiceSlice = (addresses: readonly string[]): KubeObject =>
  ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'api-x1', namespace: 'backend', labels: { 'kubernetes.io/service-name': 'api' } },
    addressType: 'IPv4',
    endpoints: addresses.map((a) => ({ addresses: [a] })),
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
  }) as unknown as KubeObject;
