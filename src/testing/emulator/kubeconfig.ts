// A kubeconfig for the emulator's plain-HTTP endpoint. client-node 1.4 refuses an http://
// server unless the cluster sets insecure-skip-tls-verify (KubeConfig.createAgent), so it is
// set; the user carries the bearer token when the emulator requires one.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { stringify } from 'yaml';

export const KUBECONFIG_NAME = 'tabby-emulator';

export function kubeconfigYaml(server: string, token?: string, namespace = 'default'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: KUBECONFIG_NAME, cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: KUBECONFIG_NAME, user: token ? { token } : {} }],
    contexts: [
      { name: KUBECONFIG_NAME, context: { cluster: KUBECONFIG_NAME, user: KUBECONFIG_NAME, namespace } },
    ],
    'current-context': KUBECONFIG_NAME,
    preferences: {},
  });
}

export async function writeKubeconfig(path: string, server: string, token?: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, kubeconfigYaml(server, token), { mode: 0o600 });
}
