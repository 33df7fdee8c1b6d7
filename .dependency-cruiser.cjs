/** Module boundaries (README: Development), enforced in `npm run lint`. */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'errors-are-leaf',
      comment:
        'src/errors is the root of every error class and its table of codes: it imports nothing of ours, so every folder can extend it',
      severity: 'error',
      from: { path: '^src/errors/' },
      to: { path: '^src/', pathNot: '^src/errors/' },
    },
    {
      name: 'model-is-leaf',
      comment: 'model imports nothing of ours but the error root',
      severity: 'error',
      from: { path: '^src/model/' },
      to: { path: '^src/', pathNot: '^src/(model|errors)/' },
    },
    {
      name: 'protocol-only-model',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^src/', pathNot: '^src/(protocol|model|errors)/' },
    },
    {
      name: 'client-ships-to-nodes',
      comment: 'the client library imports only protocol, model and the error root',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: '^src/(client|protocol|model|errors)/' },
    },
    {
      name: 'public-entry-is-the-client',
      comment:
        'src/index.ts (package exports) offers the client library and the model, nothing that needs the server',
      severity: 'error',
      from: { path: '^src/index\\.ts$' },
      to: { path: '^src/', pathNot: '^src/(client|protocol|model|errors)/' },
    },
    {
      name: 'calc-is-pure',
      comment: 'agent/calc computes desired state from the model only: no I/O, no wire, no datastore',
      severity: 'error',
      from: { path: '^src/agent/calc/' },
      to: { path: '^src/', pathNot: '^src/(agent/calc|model|errors)/' },
    },
    {
      name: 'lint-is-pure',
      comment: 'lint rules read the KV model through model/values: no I/O, no datastore, no wire',
      severity: 'error',
      from: { path: '^src/lint/' },
      to: { path: '^src/', pathNot: '^src/(lint|model|errors)/' },
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
      name: 'snapcache-between',
      comment:
        'snapcache sits between the datastore and the server: it takes updates through the sink interface the datastore declares (datastore/source.ts), keeps generations and encodes them with the wire codec; it knows no datastore implementation, no server and no client',
      severity: 'error',
      from: { path: '^src/snapcache/' },
      to: {
        path: '^src/',
        pathNot: '^src/(snapcache|model|errors|protocol)/|^src/datastore/source\\.ts$',
      },
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
      to: {
        path: '^src/',
        pathNot: '^src/(agent/dataplane/(rules/|named-port\\.ts$)|agent/calc/|model/|errors/)',
      },
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
      name: 'dataplane-below-the-agent',
      comment:
        'agent/dataplane turns calc output into kernel state: it imports calc, the model and the error root, never the wire, a datastore or the server; of the agent runtime only the part contracts it implements (runtime/parts.ts, types)',
      severity: 'error',
      from: { path: '^src/agent/dataplane/' },
      to: {
        path: '^src/',
        pathNot: '^src/(agent/dataplane|agent/calc|model|errors)/|^src/agent/runtime/parts\\.ts$',
      },
    },
    {
      name: 'runtime-takes-parts',
      comment:
        'agent/runtime (apply loops, which stream feeds which part, start/stop, health) drives parts through runtime/parts.ts: it imports no dataplane; the composition root builds the managers and hands them over',
      severity: 'error',
      from: { path: '^src/agent/runtime/' },
      to: { path: '^src/', pathNot: '^src/(agent/runtime|agent/calc|client|model|errors)/' },
    },
    {
      name: 'agent-parts-in-folders',
      comment:
        'the agent is its runtime, its calc and its dataplane parts: no module at src/agent/ root (each part is dataplane/<part>/ with manager.ts, a pure render, a driver and a shim; test/unit/agent-shape.test.ts)',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/agent/[^/]+$' },
    },
    {
      name: 'render-is-pure',
      comment:
        "a part's render (and the rule model and maps compiler they share) turns desired state into its syntax and touches nothing: no file system, processes or sockets, no driver, no shim",
      severity: 'error',
      from: {
        path: [
          '^src/agent/dataplane/(rules|maps)/',
          '^src/agent/dataplane/[a-z]+/(render|render-filters|translate|restore|encode|plan|host-stages|incremental|conf|ip-route|status)[.]ts$',
        ],
      },
      to: {
        path: [
          '^(node:)?(child_process|fs|fs/promises|net|dgram|http|https|os)$',
          '^src/agent/dataplane/[a-z]+/(driver|shim|process|birdc|device|netlink|keys|handshakes)[.]ts$',
          '^src/agent/dataplane/exec-shim[.]ts$',
        ],
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'os-through-shims',
      comment:
        'only the shims start processes (exec-shim.ts, wireguard/shim.ts) and bird/process.ts, which supervises the bird daemon: drivers reach the OS through a shim tests replace',
      severity: 'error',
      from: {
        path: '^src/agent/',
        pathNot: '^src/agent/dataplane/(exec-shim|wireguard/shim|bird/process)\\.ts$',
      },
      to: { path: '^(node:)?child_process$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'observability-watches-interfaces',
      comment:
        'observability reads components through their types, stats and collectors: no datastore implementation (only datastore/source.ts and its collector datastore/metrics.ts), no test double, no wire codec',
      severity: 'error',
      from: { path: '^src/observability/' },
      to: { path: '^src/(datastore|testing|protocol)/', pathNot: '^src/datastore/(source|metrics)\\.ts$' },
    },
    {
      name: 'observability-is-wired-by-roots',
      comment:
        "components do not know they are watched: only the composition roots (cli, the emulator's cli) import observability (a collector may read its types, next rule)",
      severity: 'error',
      from: {
        path: '^src/',
        pathNot: '^src/(cli|observability)/|^src/testing/emulator/cli\\.ts$|^src/.+/metrics\\.ts$',
      },
      to: { path: '^src/observability/' },
    },
    {
      name: 'collectors-see-observability-types',
      comment:
        "a component's collector (<component>/metrics.ts) may name observability's types (the health sources it fills), not run its code",
      severity: 'error',
      from: { path: '^src/.+/metrics\\.ts$', pathNot: '^src/observability/' },
      to: { path: '^src/observability/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'collectors-are-wired-by-roots',
      comment:
        "a component's metrics live beside it in <component>/metrics.ts, which reads its stats at scrape time; the component does not know it is watched: only the composition roots (cli, the emulator's cli) and observability (which assembles the registry) import a metrics.ts",
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli|observability)/|^src/testing/emulator/cli\\.ts$' },
      to: { path: '^src/.+/metrics\\.ts$' },
    },
    {
      name: 'prom-client-in-collectors',
      comment:
        "prom-client stays off the components' paths: only the collectors (**/metrics.ts) and observability (registry, health server, worker aggregation) import it",
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/observability/|^src/.+/metrics\\.ts$' },
      to: { path: '(^|/)node_modules/prom-client/' },
    },
    {
      name: 'config-reads-defaults',
      comment:
        'config builds one typed object over the defaults each component exports from its options.ts: besides types, it imports only the model, the error root and those options modules',
      severity: 'error',
      from: { path: '^src/config/' },
      to: {
        path: '^src/',
        pathNot: '^src/(config|model|errors)/|^src/.+/options\\.ts$',
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'config-is-for-roots',
      comment:
        "components take typed options, not settings: only the composition roots (cli, the emulator's cli) import config",
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli|config)/|^src/testing/emulator/cli\\.ts$' },
      to: { path: '^src/config/' },
    },
    {
      name: 'product-not-doubles',
      comment:
        'src/testing holds the test doubles (the API emulator, the simulated cluster and the datastores made of them) for tests, the load test and the demo modes; the product imports them only where it offers those modes: cli/main.ts (the apiserver-emulator command), cli/serve.ts (--datastore sim|sim-api) and config (their defaults, next rule)',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(testing|config)/|^src/cli/(main|serve)\\.ts$' },
      to: { path: '^src/testing/' },
    },
    {
      name: 'config-reads-doubles-defaults',
      comment:
        "config's schemas for the demo modes read a double's defaults from its options.ts and nothing else of it",
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/testing/', pathNot: '^src/testing/[^/]+/options\\.ts$' },
    },
    {
      name: 'doubles-stand-outside',
      comment:
        "the doubles stand where the cluster stands: they build Kubernetes objects (datastore/kube) and convert them as the real datastore does, and know nothing of the server, the wire, the cache or the agent (the emulator's cli also reads config and observability, rules above)",
      severity: 'error',
      from: { path: '^src/testing/' },
      to: { path: '^src/', pathNot: '^src/(testing|datastore|model|errors|config|observability)/' },
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
