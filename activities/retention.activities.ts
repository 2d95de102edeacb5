// The event store's retention as an activity (run by the retention workflow on a Temporal
// Schedule) and as a plain function (run by `npm run eventstore -- retention`).
import { Context } from '@temporalio/activity';
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
  /** Streams in the first archive transaction (default 500); later ones are sized by time. One heartbeat each. */
  batchSize?: number;
}

export interface RetentionReport {
  archivedStreams: number;
  archivedEvents: number;
  /** true when the streams went to domain_events_archive, false when they were deleted. */
  archived: boolean;
  deletedSnapshots: number;
}

/** Progress of a run, as the retention activity heartbeats it. */
export interface RetentionProgress {
  phase: 'archive' | 'snapshots';
  batches: number;
  archivedStreams: number;
  archivedEvents: number;
}

export interface RetentionHooks {
  /** After each archive batch, and before the snapshot cleanup. */
  onProgress?: (progress: RetentionProgress) => void;
  /** Stops the run between batches. */
  signal?: AbortSignal;
}

export async function runRetention(
  store: EventStoreRetention,
  policy: RetentionPolicy,
  hooks: RetentionHooks = {},
): Promise<RetentionReport> {
  let batches = 0;
  const streams = await store.archiveClosedStreams({
    olderThanDays: policy.eventsDays,
    closingEvents: CLOSING_EVENTS,
    archive: policy.archive,
    batchSize: policy.batchSize,
    signal: hooks.signal,
    onBatch: (p) => {
      batches = p.batches;
      hooks.onProgress?.({
        phase: 'archive',
        batches: p.batches,
        archivedStreams: p.streams,
        archivedEvents: p.events,
      });
    },
  });
  hooks.signal?.throwIfAborted();
  hooks.onProgress?.({
    phase: 'snapshots',
    batches,
    archivedStreams: streams.streams,
    archivedEvents: streams.events,
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
    /**
     * Heartbeats after every batch (the workflow sets a heartbeat timeout), so a dead worker is
     * noticed within that timeout rather than the hour of startToClose, and a cancellation
     * (delivered with a heartbeat) stops the run between two batches. Each batch commits on
     * its own and a rerun finds only what is left, so a retried attempt simply goes on.
     */
    async applyRetention(overrides: Partial<RetentionPolicy> = {}): Promise<RetentionReport> {
      const ctx = Context.current();
      ctx.heartbeat({ phase: 'archive', batches: 0, archivedStreams: 0, archivedEvents: 0 });
      return runRetention(
        store,
        { ...policy, ...overrides },
        {
          onProgress: (progress) => ctx.heartbeat(progress),
          signal: ctx.cancellationSignal,
        },
      );
    },
  };
}

export type RetentionActivities = ReturnType<typeof createRetentionActivities>;
