// Pure: consecutive allow (or deny) rules of one policy or profile that differ only in one
// side's nets compile to one instruction whose nets are the union — one LPM lookup in the bpf
// interpreter instead of one rule step per net (a policy of N single-CIDR rules costs N
// steps otherwise). The verdict is the same: within the run any matching rule gives the same
// action and no rule between them could decide first. The instruction keeps each rule's ref
// and nets, so explain() still names the first rule of the run that holds the address.

// Structural types only: compile.ts builds on this module, not the other way round.

export type NetSide = 'src' | 'dst';

/** One rule folded into a run: its ref and its nets on the run's side. */
export interface NetRunPart<Ref> {
  readonly ref: Ref;
  readonly nets: readonly string[];
}

export interface NetRun<Ref> {
  readonly side: NetSide;
  readonly parts: readonly NetRunPart<Ref>[];
}

type SideNets = { readonly nets: readonly string[] };
type Match = { readonly src: SideNets; readonly dst: SideNets };
interface Verdict<Ref> {
  readonly op: 'allow' | 'deny';
  readonly match: Match;
  readonly ref: Ref;
  readonly run?: NetRun<Ref>;
}
type AnyInsn<Ref> = Verdict<Ref> | { readonly op: Exclude<string, 'allow' | 'deny'> };
const isVerdict = <Ref>(i: AnyInsn<Ref> | undefined): i is Verdict<Ref> =>
  i !== undefined && (i.op === 'allow' || i.op === 'deny');

/** The match with one side's nets left out: equal keys mean the rules differ only there. */
function keyWithout(m: Match, side: NetSide): string {
  return JSON.stringify({ ...m, [side]: { ...m[side], nets: [] } });
}

function runSide<Ref>(prev: Verdict<Ref>, next: Verdict<Ref>): NetSide | undefined {
  if (prev.op !== next.op) return undefined;
  const sides: readonly NetSide[] = prev.run === undefined ? ['src', 'dst'] : [prev.run.side];
  return sides.find(
    (s) =>
      prev.match[s].nets.length > 0 &&
      next.match[s].nets.length > 0 &&
      keyWithout(prev.match, s) === keyWithout(next.match, s),
  );
}

/**
 * Appends a rule instruction to `out`, folding it into the previous one when both are allow (or
 * deny) verdicts at index ≥ `from` (the same policy's or profile's rules) that differ only in one
 * side's nets. Never moves an index: a pass instruction's position stays valid for patching.
 */
export function pushRule<Ref, I extends AnyInsn<Ref>>(out: I[], insn: I, from: number): void {
  const last = out.length - 1;
  const prev: AnyInsn<Ref> | undefined = last >= from ? out[last] : undefined;
  if (!isVerdict<Ref>(prev) || !isVerdict<Ref>(insn)) {
    out.push(insn);
    return;
  }
  const side = runSide(prev, insn);
  if (side === undefined) {
    out.push(insn);
    return;
  }
  const parts: NetRunPart<Ref>[] = [
    ...(prev.run?.parts ?? [{ ref: prev.ref, nets: prev.match[side].nets }]),
    { ref: insn.ref, nets: insn.match[side].nets },
  ];
  const nets = [...new Set([...prev.match[side].nets, ...insn.match[side].nets])];
  // The folded instruction is the previous one with the union of nets: the same type.
  out[last] = {
    ...prev,
    match: { ...prev.match, [side]: { ...prev.match[side], nets } },
    run: { side, parts },
  } as unknown as I;
}
