// Retention on the real Postgres: closed streams older than the limit move to
// domain_events_archive (or are deleted), with their snapshots; live and recent streams load
// exactly as before.
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../test/harness';
import { createEventStore } from './postgres-event-store';
import type { StreamName } from './types';

// jest.config.js's per-project testTimeout is not applied by Jest: these tests race real
// writers and wait on Temporal, which under load takes longer than Jest's default 5 s.
jest.setTimeout(60_000);

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.close());

const closingEvents = { Order: ['OrderCompleted', 'OrderCancelled'] };

async function order(closing: string | undefined, ageDays: number): Promise<StreamName> {
  const s = { type: 'Order', id: randomUUID() };
  await t.store.appendToStream(s, 'no_stream', [
    { type: 'OrderCreated', data: { order_id: s.id, customer_id: 'alice' } },
    { type: 'OrderItemAdded', data: { product_id: 'SKU-MUG', quantity: 1 } },
    ...(closing ? [{ type: closing, data: { order_id: s.id } }] : []),
  ]);
  await t.pool.query(
    `UPDATE domain_events SET created_at = now() - make_interval(days => $3)
     WHERE aggregate_type = $1 AND aggregate_id = $2`,
    [s.type, s.id, ageDays],
  );
  await t.store.writeSnapshot(s, 1, { version: 2, state: { status: 'pending' } });
  return s;
}

async function count(table: string, s: StreamName): Promise<number> {
  const { rows } = await t.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${table} WHERE aggregate_type = $1 AND aggregate_id = $2`,
    [s.type, s.id],
  );
  return Number(rows[0]!.n);
}

it('archives old closed streams with their positions, and never touches live or recent ones', async () => {
  const oldCompleted = await order('OrderCompleted', 400);
  const oldCancelled = await order('OrderCancelled', 400);
  const oldPending = await order(undefined, 400);
  const recentCompleted = await order('OrderCompleted', 10);
  const keep = [oldPending, recentCompleted];
  const loadsBefore = await Promise.all(keep.map((s) => t.store.readStream(s)));
  const archivedBefore = await t.store.readStream(oldCompleted);

  const result = await t.store.archiveClosedStreams({
    olderThanDays: 365,
    closingEvents,
    archive: true,
    batchSize: 1,
  });
  expect(result).toEqual({ streams: 2, events: 6 });

  for (const s of [oldCompleted, oldCancelled]) {
    expect(await count('domain_events', s)).toBe(0);
    expect(await count('domain_events_archive', s)).toBe(3);
    expect(await count('aggregate_snapshots', s)).toBe(0);
  }
  const { rows } = await t.pool.query<{ global_position: string; event_id: string }>(
    `SELECT global_position, event_id FROM domain_events_archive
     WHERE aggregate_id = $1 ORDER BY version`,
    [oldCompleted.id],
  );
  expect(rows.map((r) => [Number(r.global_position), r.event_id])).toEqual(
    archivedBefore.map((e) => [e.globalPosition, e.eventId]),
  );

  expect(await Promise.all(keep.map((s) => t.store.readStream(s)))).toEqual(loadsBefore);
  for (const s of keep) expect(await count('aggregate_snapshots', s)).toBe(1);

  // Nothing left to do: a second run is a no-op.
  expect(
    await t.store.archiveClosedStreams({ olderThanDays: 365, closingEvents, archive: true }),
  ).toEqual({ streams: 0, events: 0 });
});

it('deletes instead of archiving when archiving is off', async () => {
  const s = await order('OrderCancelled', 400);
  const result = await t.store.archiveClosedStreams({
    olderThanDays: 365,
    closingEvents,
    archive: false,
  });
  expect(result.streams).toBeGreaterThanOrEqual(1);
  expect(await count('domain_events', s)).toBe(0);
  expect(await count('domain_events_archive', s)).toBe(0);
});

it('appends to live streams proceed while retention runs', async () => {
  for (let i = 0; i < 20; i++) await order('OrderCompleted', 400);
  const live = { type: 'Order', id: randomUUID() };
  const store = createEventStore(t.db);
  const [archived] = await Promise.all([
    store.archiveClosedStreams({ olderThanDays: 365, closingEvents, archive: true, batchSize: 5 }),
    (async () => {
      for (let i = 0; i < 20; i++) {
        await store.appendToStream(live, i === 0 ? 'no_stream' : i, [
          { type: 'OrderItemAdded', data: { i } },
        ]);
      }
    })(),
  ]);
  expect(archived.streams).toBe(20);
  expect((await store.readStream(live)).map((e) => e.version)).toEqual(
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
});
