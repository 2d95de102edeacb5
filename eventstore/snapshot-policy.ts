// What a snapshot is and when an aggregate type is snapshotted: shared by both event stores.

export interface Snapshot<State = unknown> {
  version: number;
  state: State;
}

/** How often to snapshot: every N events per aggregate type; 0 turns snapshots off. */
export interface SnapshotPolicy {
  interval: number;
  /** Keys are aggregate types in any case, with or without underscores (INVENTORY, CUSTOMER_CREDIT). */
  intervalByType?: Record<string, number>;
}

const normalize = (name: string) => name.toUpperCase().replace(/[^A-Z0-9]/g, '');

export function snapshotIntervalFor(policy: SnapshotPolicy, aggregateType: string): number {
  const wanted = normalize(aggregateType);
  for (const [type, interval] of Object.entries(policy.intervalByType ?? {})) {
    if (normalize(type) === wanted) return interval;
  }
  return policy.interval;
}
