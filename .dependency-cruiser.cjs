/** Module boundaries (README: Development), enforced in `npm run lint`. */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'model-is-leaf',
      comment: 'model imports nothing of ours',
      severity: 'error',
      from: { path: '^src/model/' },
      to: { path: '^src/', pathNot: '^src/model/' },
    },
    {
      name: 'protocol-only-model',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^src/', pathNot: '^src/(protocol|model)/' },
    },
    {
      name: 'client-ships-to-nodes',
      comment: 'the client library imports only protocol and model',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: '^src/(client|protocol|model)/' },
    },
    {
      name: 'public-entry-is-the-client',
      comment:
        'src/index.ts (package exports) offers the client library and the model, nothing that needs the server',
      severity: 'error',
      from: { path: '^src/index\\.ts$' },
      to: { path: '^src/', pathNot: '^src/(client|protocol|model)/' },
    },
    {
      name: 'calc-is-pure',
      comment: 'agent/calc computes desired state from the model only: no I/O, no wire, no datastore',
      severity: 'error',
      from: { path: '^src/agent/calc/' },
      to: { path: '^src/', pathNot: '^src/(agent/calc|model)/' },
    },
    {
      name: 'lint-is-pure',
      comment: 'lint rules read the KV model through model/values: no I/O, no datastore, no wire',
      severity: 'error',
      from: { path: '^src/lint/' },
      to: { path: '^src/', pathNot: '^src/(lint|model)/' },
    },
    {
      name: 'values-through-model',
      comment:
        'the converters write and the linter reads KV values through the types in model/values, never through agent code',
      severity: 'error',
      from: { path: '^src/(lint|datastore)/' },
      to: { path: '^src/agent/' },
    },
    {
      name: 'datastore-not-server',
      severity: 'error',
      from: { path: '^src/datastore/' },
      to: { path: '^src/(protocol|server|client|snapcache)/' },
    },
    {
      name: 'server-not-datastore',
      comment: 'the server sees the cache through an interface it declares',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/(datastore|snapcache|client)/' },
    },
    {
      name: 'rule-model-is-neutral',
      comment:
        'agent/dataplane/rules is the model every table-based dataplane translates: it imports no dataplane',
      severity: 'error',
      from: { path: '^src/agent/dataplane/rules/' },
      to: { path: '^src/', pathNot: '^src/(agent/dataplane/(rules/|named-port\\.ts$)|agent/calc/|model/)' },
    },
    {
      name: 'table-dataplanes-apart',
      comment:
        'iptables and nftables each translate the rule model and import not each other: what both need belongs in agent/dataplane/rules',
      severity: 'error',
      from: { path: '^src/agent/dataplane/(iptables|nftables)/' },
      to: { path: '^src/agent/dataplane/(iptables|nftables)/', pathNot: '^src/agent/dataplane/$1/' },
    },
    {
      name: 'only-cli-composes',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
