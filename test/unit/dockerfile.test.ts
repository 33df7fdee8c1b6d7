// The Dockerfile's rules, checked without a container engine: bases pinned to a version (a
// digest may follow), both targets present, the server non-root with node as PID 1, the
// agent's tools from Debian without recommends, installs only from the lockfile, and only
// production dependencies in the images. test/fv/prod-install.test.ts runs that install.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  base: string;
  body: Instruction[];
}

/** Stages of a Dockerfile, with line continuations joined and ARG defaults substituted in FROM. */
function parseDockerfile(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines) {
    const [op, ...rest] = line.split(/\s+/);
    const instr = { op: op!.toUpperCase(), args: rest.join(' ') };
    if (instr.op === 'ARG' && stages.length === 0) {
      const [k, v] = instr.args.split('=');
      if (v !== undefined) args.set(k!, v);
    } else if (instr.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instr.args);
      const base = m![1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args.get(a ?? b) ?? '');
      stages.push({ name: m![2] ?? String(stages.length), base, body: [] });
    } else {
      stages.at(-1)?.body.push(instr);
    }
  }
  return stages;
}

/** What is wrong with a Dockerfile, as sentences; empty when nothing is. */
function dockerfileProblems(text: string): string[] {
  const stages = parseDockerfile(text);
  const names = new Set(stages.map((s) => s.name));
  const problems: string[] = [];
  const runs = stages.flatMap((s) =>
    s.body.filter((i) => i.op === 'RUN').map((i) => ({ stage: s.name, cmd: i.args })),
  );
  for (const s of stages) {
    if (names.has(s.base)) continue;
    // repo:tag with a full version (major.minor.patch), optionally @sha256:digest.
    if (!/^[\w./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?$/.test(s.base))
      problems.push(`stage ${s.name}: base ${s.base} is not pinned to a version`);
  }
  for (const target of ['server', 'agent']) if (!names.has(target)) problems.push(`no ${target} target`);
  for (const { stage, cmd } of runs) {
    if (/\bnpm\s+(install|i|add)\b/.test(cmd))
      problems.push(`stage ${stage}: npm install (use npm ci): ${cmd}`);
    if (/\bapt-get\s+install\b/.test(cmd) && !cmd.includes('--no-install-recommends'))
      problems.push(`stage ${stage}: apt-get install without --no-install-recommends`);
  }
  const prodStages = new Set(
    runs.filter((r) => /\bnpm\s+ci\b/.test(r.cmd) && /--omit=dev\b/.test(r.cmd)).map((r) => r.stage),
  );
  for (const target of ['server', 'agent']) {
    const stage = stages.find((s) => s.name === target);
    if (!stage) continue;
    for (const copy of stage.body.filter((i) => i.op === 'COPY' && i.args.includes('node_modules'))) {
      const from = /--from=(\S+)/.exec(copy.args)?.[1];
      if (!from || !prodStages.has(from))
        problems.push(`${target}: node_modules not from a production-only install (${copy.args})`);
    }
    const entry = stage.body.filter((i) => i.op === 'ENTRYPOINT').at(-1);
    if (!entry?.args.startsWith('['))
      problems.push(`${target}: ENTRYPOINT must be exec form, so SIGTERM reaches node, not a shell`);
  }
  const server = stages.find((s) => s.name === 'server');
  const user = server?.body.filter((i) => i.op === 'USER').at(-1)?.args;
  if (!user || !/^[1-9]\d*(:\d+)?$/.test(user))
    problems.push(`server: USER ${user ?? '(none)'} is not a numeric non-root uid (runAsNonRoot needs one)`);
  return problems;
}

const DOCKERFILE = readFileSync('Dockerfile', 'utf8');

describe('Dockerfile', () => {
  it('follows the rules', () => {
    expect(dockerfileProblems(DOCKERFILE)).toEqual([]);
  });

  it('is based on an LTS Node that the package supports', () => {
    const base = parseDockerfile(DOCKERFILE).find((s) => s.name === 'server')!.base;
    const major = Number(/^node:(\d+)\./.exec(base)?.[1]);
    const engines = JSON.parse(readFileSync('package.json', 'utf8')).engines.node as string;
    expect(major % 2, 'even majors are the LTS lines').toBe(0);
    expect(major).toBeGreaterThanOrEqual(Number(/\d+/.exec(engines)![0]));
  });

  it('gives the agent the tools it runs', () => {
    const agentRuns = parseDockerfile(DOCKERFILE)
      .find((s) => s.name === 'agent')!
      .body.filter((i) => i.op === 'RUN')
      .map((i) => i.args)
      .join(' ');
    // iptables-restore/-save, ipset, nft, ip, tc, bpftool, bird, wg, wireguard-go (src/agent/dataplane/*).
    for (const pkg of [
      'iptables',
      'bpftool',
      'ipset',
      'nftables',
      'iproute2',
      'bird2',
      'wireguard-tools',
      'wireguard-go',
    ])
      expect(agentRuns.split(/\s+/)).toContain(pkg);
  });

  it('gives the agent the compiled eBPF program where the bpf driver looks for it', () => {
    const stages = parseDockerfile(DOCKERFILE);
    const build = stages
      .find((s) => s.name === 'build')!
      .body.map((i) => i.args)
      .join('\n');
    expect(build).toContain('bash scripts/build-bpf.sh');
    const agentCopies = stages
      .find((s) => s.name === 'agent')!
      .body.filter((i) => i.op === 'COPY')
      .map((i) => i.args);
    // /app/dist/agent/dataplane/bpf/driver.js -> ../../../../bpf/build/policy.o
    expect(agentCopies).toContain('--from=build /src/bpf/build ./bpf/build');
  });

  it('keeps host build output out of the build context', () => {
    const ignore = readFileSync('.dockerignore', 'utf8').split('\n');
    // Everything is ignored, then only what the Dockerfile copies is let back in.
    expect(ignore.find((l) => l.trim() !== '' && !l.startsWith('#'))).toBe('*');
    expect(ignore.filter((l) => l.startsWith('!'))).not.toContain('!node_modules');
  });

  it('finds each broken rule', () => {
    const broken = (from: string, to: string) => {
      expect(DOCKERFILE).toContain(from);
      return dockerfileProblems(DOCKERFILE.replace(from, to));
    };
    expect(broken('ARG NODE_IMAGE=node:24.11.1-bookworm-slim', 'ARG NODE_IMAGE=node:lts-slim')).toEqual([
      expect.stringMatching(/base node:lts-slim is not pinned/),
      expect.stringMatching(/base node:lts-slim is not pinned/),
      expect.stringMatching(/base node:lts-slim is not pinned/),
      expect.stringMatching(/base node:lts-slim is not pinned/),
    ]);
    expect(
      dockerfileProblems(
        DOCKERFILE.replace(
          'NODE_IMAGE=node:24.11.1-bookworm-slim',
          `NODE_IMAGE=node:24.11.1-bookworm-slim@sha256:${'a'.repeat(64)}`,
        ),
      ),
    ).toEqual([]);
    expect(broken('USER 1000:1000', 'USER node')).toEqual([expect.stringMatching(/server: USER node/)]);
    expect(broken('USER 1000:1000', 'USER 0:0')).toEqual([expect.stringMatching(/server: USER 0:0/)]);
    expect(broken('npm ci --ignore-scripts --no-audit', 'npm install --no-audit')).toEqual([
      expect.stringMatching(/stage build: npm install/),
    ]);
    expect(broken(' --no-install-recommends \\', ' \\')).toEqual([
      expect.stringMatching(/agent: apt-get install without --no-install-recommends/),
    ]);
    expect(broken('COPY --from=deps /app/node_modules', 'COPY --from=build /src/node_modules')).toEqual([
      expect.stringMatching(/server: node_modules not from a production-only install/),
    ]);
    expect(
      broken('ENTRYPOINT ["node", "/app/dist/cli/main.js"]', 'ENTRYPOINT node /app/dist/cli/main.js'),
    ).toEqual([expect.stringMatching(/server: ENTRYPOINT must be exec form/)]);
    expect(broken('AS agent', 'AS node-agent')).toEqual(['no agent target']);
  });
});
