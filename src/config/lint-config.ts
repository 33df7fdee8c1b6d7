// Settings of `tabby lint`: which manifests to check and what the datastore cannot tell the
// rules (the service CIDR, the mesh threshold). -f and --service-cidr repeat, so cli/lint.ts
// declares those two flags itself; everything is validated by lintSchema.

import { z } from 'zod';
import { DEFAULT_MAX_MESH_NODES } from '../lint/options.js';

/** The single-valued settings (flags via addSchemaOptions, env, config file). */
export const lintScalarSchema = z.object({
  json: z.boolean().default(false).describe('print the findings as one JSON array'),
  maxMeshNodes: z.coerce
    .number()
    .int()
    .positive()
    .default(DEFAULT_MAX_MESH_NODES)
    .describe('report a node-to-node BGP mesh with more BGP nodes than this'),
});

export const lintSchema = lintScalarSchema.extend({
  file: z
    .array(z.string().min(1))
    .min(1, 'give at least one -f FILE|DIR')
    .describe('a manifest file or a directory of them (YAML/JSON; repeatable)'),
  serviceCidr: z
    .array(z.string().min(1))
    .default([])
    .describe("the cluster's service CIDR(s) (kube-apiserver --service-cluster-ip-range; repeatable)"),
});

export type LintConfig = z.infer<typeof lintSchema>;
