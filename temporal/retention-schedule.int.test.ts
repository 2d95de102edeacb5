// The retention Schedule on the real Temporal server: ensured idempotently, and a triggered
// run archives old closed streams through the retention workflow and activity.
import { randomUUID } from 'node:crypto';
import {
  createTestDatabase,
  eventually,
  startTestWorker,
  type TestDatabase,
  type TestWorker,
} from '../test/harness';
import type { RetentionReport } from '../activities/retention.activities';
import { ensureRetentionSchedule, retentionScheduleId } from './retention-schedule';

// jest.config.js's per-project testTimeout is not applied by Jest: these tests race real
// writers and wait on Temporal, which under load takes longer than Jest's default 5 s.
jest.setTimeout(60_000);

let t: TestDatabase;
let w: TestWorker;
beforeAll(async () => {
  t = await createTestDatabase();
  w = await startTestWorker(t.store, {
    retention: { eventsDays: 30, snapshotsDays: 90, archive: true },
  });
});
afterAll(async () => {
  await w.client.schedule
    .getHandle(retentionScheduleId(w.taskQueue))
    .delete()
    .catch(() => undefined);
  await w.stop();
  await t.close();
});

it('the worker-ensured schedule runs retention: old closed streams move to the archive', async () => {
  const closed = { type: 'Order', id: randomUUID() };
  const live = { type: 'Order', id: randomUUID() };
  for (const s of [closed, live]) {
    await t.store.appendToStream(s, 'no_stream', [
      { type: 'OrderCreated', data: { order_id: s.id } },
      ...(s === closed ? [{ type: 'OrderCompleted', data: { order_id: s.id } }] : []),
    ]);
  }
  await t.pool.query(`UPDATE domain_events SET created_at = now() - interval '60 days'`);
  const liveBefore = await t.store.readStream(live);

  const id = await ensureRetentionSchedule(w.client, { taskQueue: w.taskQueue });
  // Ensuring again (a second worker, a restart) keeps the one schedule.
  expect(await ensureRetentionSchedule(w.client, { taskQueue: w.taskQueue, hour: 4 })).toBe(id);
  const handle = w.client.schedule.getHandle(id);
  const described = await handle.describe();
  expect(described.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 4, end: 4, step: 1 }] });
  expect(described.action).toMatchObject({
    workflowType: 'eventStoreRetention',
    taskQueue: w.taskQueue,
  });

  await handle.trigger();
  const workflowId = await eventually(
    async () => {
      const d = await handle.describe();
      return d.info.recentActions[0]?.action.workflow.workflowId;
    },
    20_000,
    'the schedule to start a run',
  );
  const report = (await w.client.workflow.getHandle(workflowId).result()) as RetentionReport;
  expect(report).toMatchObject({ archivedStreams: 1, archivedEvents: 2, archived: true });

  const { rows } = await t.pool.query<{ live: string; archived: string }>(
    `SELECT (SELECT count(*) FROM domain_events WHERE aggregate_id = $1) AS live,
            (SELECT count(*) FROM domain_events_archive WHERE aggregate_id = $1) AS archived`,
    [closed.id],
  );
  expect(rows[0]).toEqual({ live: '0', archived: '2' });
  // The archive is still part of the log: the stream reads as before (docs/event-store.md).
  expect((await t.store.readStream(closed)).map((e) => e.type)).toEqual([
    'OrderCreated',
    'OrderCompleted',
  ]);
  expect(await t.store.readStream(live)).toEqual(liveBefore);
});
