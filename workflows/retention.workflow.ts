// The event store's retention, run daily by a Temporal Schedule (temporal/retention-schedule.ts):
// one activity, retried, so a failed night shows up in the Temporal UI instead of a log line.
import { proxyActivities } from '@temporalio/workflow';
import type {
  RetentionActivities,
  RetentionPolicy,
  RetentionReport,
} from '../activities/retention.activities';

const { applyRetention } = proxyActivities<RetentionActivities>({
  // Archiving works in batches of streams; a large backlog after a first enablement takes time.
  startToCloseTimeout: '1 hour',
  // The activity heartbeats after every batch: a dead worker is noticed within this, not after
  // the hour. Longer than a batch may take (the worker's retention pool bounds each statement
  // at RETENTION_STATEMENT_TIMEOUT_MS in worker.ts). Activity options are not part of replay's
  // command matching, so recorded retention histories still replay.
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '30 seconds', maximumAttempts: 5 },
});

export async function eventStoreRetention(
  overrides: Partial<RetentionPolicy> = {},
): Promise<RetentionReport> {
  return applyRetention(overrides);
}
