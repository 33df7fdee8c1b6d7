// Loads a kubeconfig for a command: the file given by --kubeconfig, else client-node's default
// search ($KUBECONFIG, ~/.kube/config, in-cluster). A file that does not parse, or a config
// with no current cluster, is the operator's error: one line naming the setting, not a stack
// trace or a watcher retrying "no current cluster" forever.

import { KubeConfig } from '@kubernetes/client-node';
import { settingError } from '../config/errors.js';

export function loadKubeconfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
  } catch (err) {
    throw settingError(
      'kubeconfig',
      `cannot load ${path ?? 'the default kubeconfig'}: ${(err as Error).message.split('\n')[0]}`,
      err,
    );
  }
  if (kc.getCurrentCluster() === null)
    throw settingError(
      'kubeconfig',
      `${path ?? 'the default kubeconfig'} has no current cluster (current-context)`,
    );
  return kc;
}
