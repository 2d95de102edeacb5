// The event store's retention as an activity (run by the retention workflow on a Temporal
// Schedule) and as a plain function (run by `npm run eventstore -- retention`).
import type { OrderEvent } from '../domain/order';
import type { EventStoreRetention } from '../eventstore';

/** Streams whose last event is one of these are closed: the decider refuses every later command. */
export const CLOSING_EVENTS: Record<string, readonly OrderEvent['type'][]> = {
  Order: ['OrderCompleted', 'OrderCancelled'],
};

export interface RetentionPolicy {
  /** Closed streams quiet for longer than this move to the archive. */
  eventsDays: number;
  /** Snapshots older than this are deleted, except each aggregate's newest. */
  snapshotsDays: number;
  /** false: delete closed streams instead of archiving them. */
  archive: boolean;
}

export interface RetentionReport {
  archivedStreams: number;
  archivedEvents: number;
  /** true when the streams went to domain_events_archive, false when they were deleted. */
  archived: boolean;
  deletedSnapshots: number;
}

export async function runRetention(
  store: EventStoreRetention,
  policy: RetentionPolicy,
): Promise<RetentionReport> {
  const streams = await store.archiveClosedStreams({
    olderThanDays: policy.eventsDays,
    closingEvents: CLOSING_EVENTS,
    archive: policy.archive,
  });
  const deletedSnapshots = await store.cleanupSnapshots(policy.snapshotsDays);
  return {
    archivedStreams: streams.streams,
    archivedEvents: streams.events,
    archived: policy.archive,
    deletedSnapshots,
  };
}

export interface RetentionActivityDeps {
  store: EventStoreRetention;
  /** The worker's configured policy (RETENTION_*); a workflow input may override parts of it. */
  policy: RetentionPolicy;
}

export function createRetentionActivities({ store, policy }: RetentionActivityDeps) {
  return {
    async applyRetention(overrides: Partial<RetentionPolicy> = {}): Promise<RetentionReport> {
      return runRetention(store, { ...policy, ...overrides });
    },
  };
}

export type RetentionActivities = ReturnType<typeof createRetentionActivities>;
