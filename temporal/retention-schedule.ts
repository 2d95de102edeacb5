// The Temporal Schedule that runs the event store's retention daily, one per task queue.
// `npm run temporal-setup` and `npm start` create it or bring its action up to date.
import {
  type Client,
  ScheduleAlreadyRunning,
  type ScheduleOptionsAction,
} from '@temporalio/client';

export const retentionScheduleId = (taskQueue: string) => `event-store-retention-${taskQueue}`;

export interface RetentionScheduleOptions {
  taskQueue: string;
  /** UTC time of day of the run (default 03:17, off the top of the hour). */
  hour?: number;
  minute?: number;
}

export async function ensureRetentionSchedule(
  client: Client,
  options: RetentionScheduleOptions,
): Promise<string> {
  const scheduleId = retentionScheduleId(options.taskQueue);
  const action: ScheduleOptionsAction = {
    type: 'startWorkflow',
    workflowType: 'eventStoreRetention',
    workflowId: `event-store-retention-${options.taskQueue}`,
    taskQueue: options.taskQueue,
    args: [{}],
  };
  const spec = { calendars: [{ hour: options.hour ?? 3, minute: options.minute ?? 17 }] };
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action,
      policies: { overlap: 'SKIP', catchupWindow: '1 day' },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule
      .getHandle(scheduleId)
      .update((previous) => ({ ...previous, spec, action }));
  }
  return scheduleId;
}
