// The one comparison made on resourceVersions. The API contract calls them opaque, but every
// etcd-backed (and kine-backed) API server issues its store's revision: a decimal integer that
// is global to the cluster and only grows. So a consistent read (a list without a
// resourceVersion) answers with a revision at least as high as every revision the API has
// served before; a lower one means the store behind the API was replaced (an etcd restored
// from a snapshot, a new cluster at the same address). A version that is not a decimal integer
// is never compared: no alarm, the other checks (410, failures) still apply.

const DECIMAL = /^(0|[1-9][0-9]{0,19})$/;

/** The revision a resourceVersion stands for, or undefined when it is not a decimal integer. */
export function revisionOf(rv: string | undefined): bigint | undefined {
  return rv !== undefined && DECIMAL.test(rv) ? BigInt(rv) : undefined;
}

/** The highest revision the API has served us (lists, events, bookmarks, probes). */
export class RevisionWatermark {
  private highest: bigint | undefined;

  get value(): string | undefined {
    return this.highest?.toString();
  }

  note(rv: string | undefined): void {
    const r = revisionOf(rv);
    if (r !== undefined && (this.highest === undefined || r > this.highest)) this.highest = r;
  }

  /** True when a consistent read's resourceVersion is below what the API served before. */
  isBehind(consistentRv: string | undefined): boolean {
    const r = revisionOf(consistentRv);
    return r !== undefined && this.highest !== undefined && r < this.highest;
  }

  /** After a replaced store: from now on only the new store's revisions count. */
  reset(rv: string | undefined): void {
    this.highest = revisionOf(rv);
  }
}
