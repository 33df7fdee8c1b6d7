// The bpf dataplane's errors, each with a stable code: no BPF here (or no permission) at start,
// a program the verifier rejected (named), and a failed map update or attach.

import { ErrorCode } from '../../../errors/codes.js';
import { TabbyError } from '../../../errors/tabby-error.js';

/** Any bpf dataplane failure: the CLI tells these apart from other errors by this class. */
export class BpfError extends TabbyError {}

/** This kernel or process cannot run the bpf dataplane (no bpffs, no bpf(), no CAP_BPF/root, no object). */
export class BpfUnavailableError extends BpfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.BpfUnavailable, `bpf dataplane unavailable: ${message}`, options);
  }
}

/** The verifier (or the loader) rejected a program; `program` names it, `log` is the verifier's tail. */
export class BpfVerifierError extends BpfError {
  constructor(
    readonly program: string,
    readonly log: string,
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.BpfVerifier, `bpf program ${program} was rejected by the kernel:\n${log}`, options);
  }
}

export class BpfApplyError extends BpfError {
  constructor(stage: string, message: string, options?: { cause?: unknown }) {
    super(ErrorCode.BpfApply, `bpf dataplane: ${stage} failed: ${message}`, options);
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
