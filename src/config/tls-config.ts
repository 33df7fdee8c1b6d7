// TLS settings, shared by every command: the server's (certificate, key, client CA,
// allow-lists) and a client's (certificate, key, server CA, expected server name). Either
// all files are given or none (plain TCP); half a configuration is an error, never a
// silent downgrade.

import { z } from 'zod';
import type { ClientTlsOptions } from '../client/tls.js';
import type { ServerTlsOptions } from '../server/tls.js';
import { ConfigError } from './errors.js';

const file = (what: string) => z.string().min(1).optional().describe(what);
const list = (what: string) => z.string().default('').describe(what);

export const serverTlsFields = {
  tlsCertFile: file(
    "mutual TLS: the server's certificate (PEM); with --tls-key-file and --tls-client-ca-file",
  ),
  tlsKeyFile: file("mutual TLS: the server's private key (PEM)"),
  tlsClientCaFile: file('mutual TLS: CA bundle that signs agent certificates (PEM); others are refused'),
  tlsAllowedClientCns: list(
    'mutual TLS: admitted client certificate CNs, comma-separated; {node} stands for a node name (e.g. system:node:{node})',
  ),
  tlsAllowedClientUriSans: list(
    'mutual TLS: admitted client URI SANs, comma-separated; {node} stands for a node name, {pod} for an agent pod in --tls-agent-namespace (e.g. spiffe://cluster.local/ns/tabby-system/pod/{pod})',
  ),
  tlsAgentNamespace: z
    .string()
    .min(1)
    .default('tabby-system')
    .describe(
      'mutual TLS: the namespace of the agent pods that {pod} identities name; the pod must be bound to the node it reports for (Kubernetes datastore)',
    ),
  tlsReloadIntervalMs: z.coerce
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe('mutual TLS: check the certificate files for a new version this often'),
};

export const clientTlsFields = {
  tlsCertFile: file("mutual TLS: this client's certificate (PEM); with --tls-key-file and --tls-ca-file"),
  tlsKeyFile: file("mutual TLS: this client's private key (PEM)"),
  tlsCaFile: file("mutual TLS: CA bundle that signs the servers' certificates (PEM)"),
  tlsServerName: z
    .string()
    .min(1)
    .optional()
    .describe(
      "mutual TLS: the server's DNS name or URI SAN (spiffe://...) to verify (default: the dialled host)",
    ),
};

type ServerTlsFields = z.infer<z.ZodObject<typeof serverTlsFields>>;
type ClientTlsFields = z.infer<z.ZodObject<typeof clientTlsFields>>;

const splitList = (s: string): string[] =>
  s
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');

/** Problems with a server TLS configuration, for checkXConfig. */
export function serverTlsProblems(c: ServerTlsFields): string[] {
  const given = [c.tlsCertFile, c.tlsKeyFile, c.tlsClientCaFile].filter((f) => f !== undefined).length;
  if (given === 0)
    return c.tlsAllowedClientCns || c.tlsAllowedClientUriSans
      ? [
          '--tls-allowed-client-cns / --tls-allowed-client-uri-sans need --tls-cert-file, --tls-key-file and --tls-client-ca-file',
        ]
      : [];
  if (given < 3)
    return ['mutual TLS needs all of --tls-cert-file, --tls-key-file and --tls-client-ca-file (TABBY_TLS_*)'];
  return [];
}

/** Whether an allow-list names agent pods: then the server must know where they run. */
export function namesPods(c: ServerTlsFields): boolean {
  return `${c.tlsAllowedClientCns},${c.tlsAllowedClientUriSans}`.includes('{pod}');
}

export function serverTlsOptions(c: ServerTlsFields): ServerTlsOptions | undefined {
  if (!c.tlsCertFile || !c.tlsKeyFile || !c.tlsClientCaFile) return undefined;
  return {
    certFile: c.tlsCertFile,
    keyFile: c.tlsKeyFile,
    clientCaFile: c.tlsClientCaFile,
    allowedClientCns: splitList(c.tlsAllowedClientCns),
    allowedClientUriSans: splitList(c.tlsAllowedClientUriSans),
    reloadIntervalMs: c.tlsReloadIntervalMs,
  };
}

export function clientTlsProblems(c: ClientTlsFields): string[] {
  const given = [c.tlsCertFile, c.tlsKeyFile, c.tlsCaFile].filter((f) => f !== undefined).length;
  if (given === 0)
    return c.tlsServerName
      ? ['--tls-server-name needs --tls-cert-file, --tls-key-file and --tls-ca-file']
      : [];
  if (given < 3)
    return ['mutual TLS needs all of --tls-cert-file, --tls-key-file and --tls-ca-file (TABBY_TLS_*)'];
  return [];
}

/** A client command's TLS options (undefined: plain TCP); half a configuration throws ConfigError. */
export function clientTlsOptions(c: ClientTlsFields): ClientTlsOptions | undefined {
  const problems = clientTlsProblems(c);
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
  if (!c.tlsCertFile || !c.tlsKeyFile || !c.tlsCaFile) return undefined;
  return {
    certFile: c.tlsCertFile,
    keyFile: c.tlsKeyFile,
    caFile: c.tlsCaFile,
    ...(c.tlsServerName ? { serverName: c.tlsServerName } : {}),
  };
}
