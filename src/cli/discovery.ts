// Wires replica discovery for `tabby agent` and `tabby serve`: an EndpointSlice watch of the
// Service named by --discovery-service, with the kubeconfig the command was given (else
// $KUBECONFIG, ~/.kube/config, in-cluster).

import { KubeConfig } from '@kubernetes/client-node';
import { EndpointSliceWatch } from '../datastore/kubernetes/endpoint-slices.js';
import type { Logger } from '../model/logger.js';
import { parseServiceRef } from '../model/service-ref.js';

export function startDiscovery(
  spec: string,
  kubeconfigPath: string | undefined,
  log: Logger,
): EndpointSliceWatch {
  const ref = parseServiceRef(spec);
  if (ref === undefined) throw new RangeError(`not k8s:<namespace>/<service>: ${spec}`); // the schema checked it
  const kubeconfig = new KubeConfig();
  if (kubeconfigPath) kubeconfig.loadFromFile(kubeconfigPath);
  else kubeconfig.loadFromDefault();
  const watch = new EndpointSliceWatch({ kubeconfig, ref, log: log.child({ component: 'discovery' }) });
  watch.start();
  return watch;
}
