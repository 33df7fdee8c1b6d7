# syntax=docker/dockerfile:1
# Tabby's two images from one file:
#   docker build --target server -t tabby:0.1.0 .        # tabby serve (non-root, read-only root fs)
#   docker build --target agent  -t tabby-agent:0.1.0 .  # tabby agent (iptables, nft, ipset, eBPF, BIRD, WireGuard)
# Bases are pinned by version. To pin by digest as well, append @sha256:… from
# `docker buildx imagetools inspect node:24.11.1-bookworm-slim` (test/unit/dockerfile.test.ts accepts both).
# The production install is reproduced without a container engine by test/fv/prod-install.test.ts:
# keep its steps and these in step.

ARG NODE_IMAGE=node:24.11.1-bookworm-slim

# --- build: every dependency, compile TypeScript to dist/ and the eBPF program to bpf/build/ ----
FROM ${NODE_IMAGE} AS build
# clang (BPF target) and libbpf's headers compile bpf/policy.c; they stay in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang llvm libbpf-dev libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would compile before the sources are here; we build below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json
COPY scripts/build-bpf.sh ./scripts/
COPY bpf/policy.c ./bpf/
RUN bash scripts/build-bpf.sh

# --- deps: production dependencies only, from the same lockfile ------------------------------
# A separate install rather than `npm prune` on the build tree: nothing a devDependency left
# behind can leak in, and this layer is cached until the lockfile changes.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- server: tabby serve --------------------------------------------------------------------
FROM ${NODE_IMAGE} AS server
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# Numeric uid: the kubelet can only verify runAsNonRoot against a numeric USER. 1000 is the
# image's `node` user; nothing under /app is writable by it.
USER 1000:1000
EXPOSE 5473 9098
# Exec form: node is PID 1 and receives SIGTERM itself; `serve` drains clients on it.
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["serve", "--datastore", "kubernetes"]

# --- agent: tabby agent -----------------------------------------------------------------------
FROM ${NODE_IMAGE} AS agent
ENV NODE_ENV=production
# --no-install-recommends: wireguard-tools would otherwise pull in a kernel image.
# tini: the agent runs iptables, nft, ip, tc, bpftool, wg, bird and wireguard-go as children;
# as PID 1 tini forwards SIGTERM to node and reaps any orphan those leave.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      iptables ipset nftables iproute2 bpftool bird2 wireguard-tools wireguard-go tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# --dataplane bpf loads this object (src/agent/dataplane/bpf/driver.ts: defaultObjectPath).
COPY --from=build /src/bpf/build ./bpf/build
COPY package.json ./
# Root with only the capabilities the DaemonSet grants (deploy/base/agent-daemonset.yaml).
USER 0:0
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/cli/main.js"]
CMD ["agent"]
