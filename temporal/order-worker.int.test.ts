// The worker sized to its resources, against the real Postgres and Temporal dev server:
// activity slots never exceed the pool, every wait on Postgres ends before the saga's activity
// timeout, and the retention activity heartbeats its progress batch by batch.
import { randomUUID } from 'node:crypto';
import {
  runRetention,
  type RetentionProgress,
  type RetentionReport,
} from '../activities/retention.activities';
import { loadConfig } from '../config';
import {
  createTestDatabase,
  eventually,
  startTestWorker,
  type TestDatabase,
  type TestWorker,
} from '../test/harness';
import { activitySlotsFor, createWorkerPools, WORKER_DB_TIMEOUTS } from './order-worker';

jest.setTimeout(120_000);

let t: TestDatabase;
let w: TestWorker;
beforeAll(async () => {
  t = await createTestDatabase();
  w = await startTestWorker(t.store, {
    retention: { eventsDays: 30, snapshotsDays: 30, archive: true },
    // Heartbeats reach the server at once, so the test sees each one.
    workerOptions: {
      maxHeartbeatThrottleInterval: '50 ms',
      defaultHeartbeatThrottleInterval: '50 ms',
    },
  });
});
afterAll(async () => {
  await w?.stop();
  await t?.close();
});

const protoMs = (d: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  Number(d?.seconds ?? 0) * 1000 + Math.round((d?.nanos ?? 0) / 1e6);

describe('activity slots and the pool', () => {
  test('WORKER_DB_POOL_MAX sizes the pool, and the slots follow it and never exceed it', async () => {
    const config = loadConfig({ WORKER_DB_POOL_MAX: '7' });
    const { pool, retentionPool } = createWorkerPools(t.url, config.workerDbPoolMax);
    try {
      expect(pool.options.max).toBe(7);
      expect(activitySlotsFor(pool.options.max)).toBe(7);
      expect(activitySlotsFor(pool.options.max, 5)).toBe(5);
      expect(() => activitySlotsFor(pool.options.max, 8)).toThrow(
        /larger than the event store's pool \(7/,
      );
      expect(loadConfig({}).workerDbPoolMax).toBe(20);
    } finally {
      await Promise.all([pool.end(), retentionPool.end()]);
    }
    // The running test worker took its slots from its store's pool (20), not Temporal's 100.
    const tuner = w.worker.options.tuner as {
      activityTaskSlotSupplier: { type: string; numSlots: number };
      localActivityTaskSlotSupplier: { type: string; numSlots: number };
    };
    expect(tuner.activityTaskSlotSupplier).toEqual({ type: 'fixed-size', numSlots: 20 });
    expect(tuner.localActivityTaskSlotSupplier).toEqual({ type: 'fixed-size', numSlots: 20 });
    expect(t.pool.options.max).toBe(20);
  });

  test("every wait on Postgres ends before the saga's activity timeout, and is enforced", async () => {
    // The activity timeout as the saga really schedules it.
    const started = await w.orders.start({
      customerId: 'c-timeouts',
      items: [{ productId: `sku-${randomUUID()}`, quantity: 1, unitPriceCents: 100 }],
    });
    await w.orders.result(started.orderId);
    const history = await w.client.workflow.getHandle(started.workflowId).fetchHistory();
    const scheduled = (history.events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes)
      .filter((a) => a !== null && a !== undefined);
    expect(scheduled.length).toBeGreaterThan(0);
    const activityTimeoutMs = Math.min(...scheduled.map((a) => protoMs(a.startToCloseTimeout)));
    expect(activityTimeoutMs).toBe(10_000);
    for (const ms of Object.values(WORKER_DB_TIMEOUTS)) expect(ms).toBeLessThan(activityTimeoutMs);

    const { pool, retentionPool } = createWorkerPools(t.url, 1);
    try {
      const { rows } = await pool.query<{ statement_timeout: string }>('SHOW statement_timeout');
      expect(rows[0]!.statement_timeout).toBe('5s');
      // The server cancels a statement past the limit...
      await expect(pool.query('SELECT pg_sleep(30)')).rejects.toMatchObject({ code: '57014' });
      // ...and a caller that gets no connection gives up instead of queueing on.
      const held = await pool.connect();
      const waitStarted = Date.now();
      await expect(pool.connect()).rejects.toThrow(/timeout/i);
      const waited = Date.now() - waitStarted;
      expect(waited).toBeGreaterThanOrEqual(WORKER_DB_TIMEOUTS.connectionTimeoutMs - 100);
      expect(waited).toBeLessThan(activityTimeoutMs);
      held.release();
    } finally {
      await Promise.all([pool.end(), retentionPool.end()]);
    }
  });
});

describe('retention heartbeats', () => {
  test('the retention activity heartbeats after every batch, with a heartbeat timeout', async () => {
    // Three closed streams and a live aggregate with an old snapshot, all 60 days old.
    const closed = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of closed) {
      await t.store.appendToStream({ type: 'Order', id }, 'no_stream', [
        { type: 'OrderCreated', data: { order_id: id } },
        { type: 'OrderCompleted', data: { order_id: id } },
      ]);
    }
    const live = { type: 'Inventory', id: `live-${randomUUID()}` };
    await t.store.writeSnapshot(live, 1, { version: 2, state: { onHand: 1 } });
    await t.store.writeSnapshot(live, 1, { version: 4, state: { onHand: 2 } });
    await t.pool.query(
      `UPDATE domain_events SET created_at = now() - interval '60 days' WHERE aggregate_id = ANY($1)`,
      [closed],
    );
    await t.pool.query(
      `UPDATE aggregate_snapshots SET created_at = now() - interval '60 days' WHERE aggregate_id = $1`,
      [live.id],
    );

    // Hold the old snapshot's row: the run archives every batch, then waits in its snapshot
    // cleanup, where the last heartbeat stays visible.
    const blocker = await t.pool.connect();
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await blocker.query('ROLLBACK');
      blocker.release();
    };
    try {
      await blocker.query('BEGIN');
      await blocker.query(
        `SELECT 1 FROM aggregate_snapshots WHERE aggregate_id = $1 AND version = 2 FOR UPDATE`,
        [live.id],
      );
      const handle = await w.client.workflow.start('eventStoreRetention', {
        workflowId: `retention-${randomUUID()}`,
        taskQueue: w.taskQueue,
        args: [{ batchSize: 1 }],
      });
      const progress = await eventually(
        async () => {
          const pending = (await handle.describe()).raw.pendingActivities?.[0];
          // This worker's payloads go through no codec: the payload converter reads them.
          const [details] = pending?.heartbeatDetails?.payloads ?? [];
          const p = details
            ? w.client.options.loadedDataConverter.payloadConverter.fromPayload<RetentionProgress>(
                details,
              )
            : undefined;
          return p?.phase === 'snapshots' ? p : undefined;
        },
        30_000,
        'the heartbeat of the snapshot phase',
      );
      // One heartbeat per archive batch: batches start at batchSize and double while they are
      // below ten streams (then they are sized by time): 1, 2, and the empty last one.
      expect(progress).toEqual({
        phase: 'snapshots',
        batches: 3,
        archivedStreams: 3,
        archivedEvents: 6,
      });
      await release();
      const report: RetentionReport = await handle.result();
      expect(report).toEqual({
        archivedStreams: 3,
        archivedEvents: 6,
        archived: true,
        deletedSnapshots: 1,
      });
      const history = await handle.fetchHistory();
      const scheduled = history.events?.find(
        (e) => e.activityTaskScheduledEventAttributes,
      )?.activityTaskScheduledEventAttributes;
      expect(protoMs(scheduled?.heartbeatTimeout)).toBe(2 * 60_000);
    } finally {
      await release();
    }
  });

  test('a cancellation stops the run between two batches, with every finished batch kept', async () => {
    const closed = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of closed) {
      await t.store.appendToStream({ type: 'Order', id }, 'no_stream', [
        { type: 'OrderCreated', data: { order_id: id } },
        { type: 'OrderCancelled', data: { order_id: id } },
      ]);
    }
    await t.pool.query(
      `UPDATE domain_events SET created_at = now() - interval '60 days' WHERE aggregate_id = ANY($1)`,
      [closed],
    );
    // The activity's cancellationSignal, aborted as a heartbeat would deliver it: after batch 1.
    const cancellation = new AbortController();
    const seen: RetentionProgress[] = [];
    await expect(
      runRetention(
        t.store,
        { eventsDays: 30, snapshotsDays: 30, archive: true, batchSize: 1 },
        {
          signal: cancellation.signal,
          onProgress: (p) => {
            seen.push(p);
            cancellation.abort();
          },
        },
      ),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual([{ phase: 'archive', batches: 1, archivedStreams: 1, archivedEvents: 2 }]);
    const { rows } = await t.pool.query<{ n: number }>(
      `SELECT count(DISTINCT aggregate_id)::int AS n FROM domain_events_archive WHERE aggregate_id = ANY($1)`,
      [closed],
    );
    expect(rows[0]!.n).toBe(1);
  });
});
