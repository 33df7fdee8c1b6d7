// The one comparison made on resourceVersions. The API contract calls them opaque, but every
// etcd-backed (and kine-backed) API server issues its store's revision: a decimal integer that
// is global to the cluster and only grows. So a consistent read (a list without a
// resourceVersion) answers with a revision at least as high as every revision the API had
// served *before the read was sent*; a lower one means the store behind the API was replaced
// (an etcd restored from a snapshot, a new cluster at the same address). Revisions served
// while the read is in flight (another type's watch events) do not count: the read's snapshot
// may be older than them, and a paged list answers with its first page's revision. A version that is not a decimal integer
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

  /**
   * True when a consistent read's resourceVersion is below `floor`: the watermark's value when
   * the read was sent (undefined: nothing had been served yet, so nothing to be behind).
   */
  isBehind(consistentRv: string | undefined, floor: string | undefined): boolean {
    const r = revisionOf(consistentRv);
    const f = revisionOf(floor);
    return r !== undefined && f !== undefined && r < f;
  }

  /** After a replaced store: from now on only the new store's revisions count. */
  reset(rv: string | undefined): void {
    this.highest = revisionOf(rv);
  }
}
