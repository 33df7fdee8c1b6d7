// HostEndpoint to the model host endpoint, after Calico's
// updateprocessors/hostendpointprocessor.go: keyed by node and name, expected IPs split by
// family, named ports with the model's lowercase protocols.

import { formatIp } from '../../model/net/ip.js';
import type { KV } from '../../model/types.js';
import type { HostEndpointKv } from '../../model/values/endpoint.js';
import { modelKV } from '../../model/values/kv.js';
import type { KubeObject } from '../kube/object.js';
import { Invalid } from './errors.js';
import { fields, list, optInt, optString, reqString, stringList } from './fields.js';
import { ipOf } from './net.js';
import { isValidPortName, parseProtocol, protocolToModel } from './ports.js';

const INTERFACE = /^[a-zA-Z0-9_.-]{1,15}$/;

export function convertHostEndpoint(obj: KubeObject): KV[] {
  const spec = fields(obj.spec, 'spec');
  const node = reqString(spec, 'node', 'spec');
  const iface = optString(spec, 'interfaceName', 'spec') ?? '';
  if (iface !== '' && iface !== '*' && !INTERFACE.test(iface))
    throw new Invalid(`spec.interfaceName: invalid interface name ${JSON.stringify(iface)}`);
  const ips = stringList(spec, 'expectedIPs', 'spec').map((s, i) => ipOf(s, `spec.expectedIPs[${i}]`));
  if (iface === '' && ips.length === 0) throw new Invalid('spec: interfaceName or expectedIPs is required');
  const ports = list(spec, 'ports', 'spec').map((p, i) => {
    const where = `spec.ports[${i}]`;
    const f = fields(p, where);
    const name = reqString(f, 'name', where);
    if (!isValidPortName(name)) throw new Invalid(`${where}.name: invalid port name ${JSON.stringify(name)}`);
    const port = optInt(f, 'port', where, 1, 65535);
    if (port === undefined) throw new Invalid(`${where}.port: required`);
    return { name, protocol: protocolToModel(parseProtocol(f['protocol'], `${where}.protocol`)), port };
  });
  const value: HostEndpointKv = {
    name: iface,
    expectedIPv4Addrs: ips.filter((ip) => ip.version === 4).map(formatIp),
    expectedIPv6Addrs: ips.filter((ip) => ip.version === 6).map(formatIp),
    labels: { ...obj.metadata.labels },
    profileIds: stringList(spec, 'profiles', 'spec'),
    ports,
  };
  return [modelKV('hostEndpoint', [node, obj.metadata.name], value)];
}
