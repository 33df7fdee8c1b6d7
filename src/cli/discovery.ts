// Wires replica discovery for `tabby agent` and `tabby serve`: an EndpointSlice watch of the
// Service named by --discovery-service, with the kubeconfig the command was given (else
// $KUBECONFIG, ~/.kube/config, in-cluster).

import { EndpointSliceWatch } from '../datastore/kubernetes/endpoint-slices.js';
import type { Logger } from '../model/logger.js';
import { parseServiceRef } from '../model/service-ref.js';
import { loadKubeconfig } from './kubeconfig.js';

export function startDiscovery(
  spec: string,
  kubeconfigPath: string | undefined,
  log: Logger,
): EndpointSliceWatch {
  const ref = parseServiceRef(spec);
  if (ref === undefined) throw new RangeError(`not k8s:<namespace>/<service>: ${spec}`); // the schema checked it
  const kubeconfig = loadKubeconfig(kubeconfigPath);
  const watch = new EndpointSliceWatch({ kubeconfig, ref, log: log.child({ component: 'discovery' }) });
  watch.start();
  return watch;
}
