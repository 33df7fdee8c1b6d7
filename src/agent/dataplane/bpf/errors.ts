// The bpf dataplane's errors, each with a stable code: no BPF here (or no permission) at start,
// a program the verifier rejected (named), and a failed map update or attach.

export class BpfError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BpfError';
  }
}

/** This kernel or process cannot run the bpf dataplane (no bpffs, no bpf(), no CAP_BPF/root, no object). */
export class BpfUnavailableError extends BpfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TABBY_ERR_BPF_UNAVAILABLE', `bpf dataplane unavailable: ${message}`, options);
    this.name = 'BpfUnavailableError';
  }
}

/** The verifier (or the loader) rejected a program; `program` names it, `log` is the verifier's tail. */
export class BpfVerifierError extends BpfError {
  constructor(
    readonly program: string,
    readonly log: string,
    options?: { cause?: unknown },
  ) {
    super('TABBY_ERR_BPF_VERIFIER', `bpf program ${program} was rejected by the kernel:\n${log}`, options);
    this.name = 'BpfVerifierError';
  }
}

export class BpfApplyError extends BpfError {
  constructor(stage: string, message: string, options?: { cause?: unknown }) {
    super('TABBY_ERR_BPF_APPLY', `bpf dataplane: ${stage} failed: ${message}`, options);
    this.name = 'BpfApplyError';
  }
}

/** bpftool/libbpf output of a failed load as a typed error: which program, and why. */
export function loadError(stderr: string, cause: unknown): BpfError {
  if (/Operation not permitted|EPERM/.test(stderr) && !/processed \d+ insns/.test(stderr))
    return new BpfUnavailableError(
      `loading programs is not permitted (run as root or with CAP_BPF + CAP_NET_ADMIN): ${lastLines(stderr, 3)}`,
      { cause },
    );
  const prog = /prog '([^']+)': (?:BPF program load failed|failed to load)/.exec(stderr)?.[1];
  // The verifier's own log sits between these markers; its end says what it refused.
  const log = /-- BEGIN PROG LOAD LOG --\n([\s\S]*?)-- END PROG LOAD LOG --/.exec(stderr)?.[1];
  return new BpfVerifierError(prog ?? '(unknown program)', lastLines(log ?? stderr, 20), { cause });
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}
