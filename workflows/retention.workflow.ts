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
  retry: { initialInterval: '30 seconds', maximumAttempts: 5 },
});

export async function eventStoreRetention(
  overrides: Partial<RetentionPolicy> = {},
): Promise<RetentionReport> {
  return applyRetention(overrides);
}
