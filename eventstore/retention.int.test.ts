// Retention on the real Postgres: closed streams older than the limit move to
// domain_events_archive (or are deleted), with their snapshots; live and recent streams load
// exactly as before.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../test/harness';
import { createDb, createPool } from './db';
import { StreamTombstonedError } from './errors';
import { createEventStore } from './postgres-event-store';
import { streamTombstoned } from './tombstones';
import type { EventStoreTables } from './schema';
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

/** Every event id of the log, live and archived, with how often it appears. */
async function logIds(): Promise<Map<string, number>> {
  const { rows } = await t.pool.query<{ event_id: string; n: string }>(
    `SELECT event_id, count(*) AS n FROM (
       SELECT event_id FROM domain_events UNION ALL SELECT event_id FROM domain_events_archive) l
     GROUP BY event_id`,
  );
  return new Map(rows.map((r) => [r.event_id, Number(r.n)]));
}

it('appends to other streams go on while a retention batch is open, and no event is lost or doubled', async () => {
  const closed = [];
  for (let i = 0; i < 3; i++) closed.push(await order('OrderCompleted', 400));
  const before = await logIds();

  // Hold one closed stream's snapshot row: the batch that deletes it waits with its transaction
  // open, having taken whatever it takes before that.
  // Own connections: the pool's are the store's.
  const holder = new pg.Client({ connectionString: t.url });
  const watcher = new pg.Client({ connectionString: t.url });
  await holder.connect();
  await watcher.connect();
  const appender = createEventStore(t.db);
  try {
    await holder.query('BEGIN');
    await holder.query(
      `SELECT 1 FROM aggregate_snapshots WHERE aggregate_type = $1 AND aggregate_id = $2 FOR UPDATE`,
      [closed[0]!.type, closed[0]!.id],
    );
    const retention = t.store.archiveClosedStreams({
      olderThanDays: 365,
      closingEvents,
      archive: true,
    });
    for (;;) {
      const { rows } = await watcher.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'
           AND query ILIKE '%closed AS MATERIALIZED%'`,
      );
      if (Number(rows[0]!.n) > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }

    const appended: string[] = [];
    const appends = (async () => {
      for (const type of ['Order', 'Inventory', 'CustomerCredit']) {
        const r = await appender.appendToStream({ type, id: randomUUID() }, 'no_stream', [
          { type: 'Opened', data: { type } },
        ]);
        appended.push(r.positions[0]!.eventId);
      }
      return 'appended' as const;
    })();
    // A table lock would hold the appends until the holder lets go: they would never win.
    const outcome = await Promise.race([
      appends,
      new Promise<'blocked'>((r) => setTimeout(() => r('blocked'), 10_000)),
    ]);
    expect(outcome).toBe('appended');

    await holder.query('COMMIT');
    const result = await retention;
    expect(result.streams).toBeGreaterThanOrEqual(3);

    const after = await logIds();
    for (const id of [...before.keys(), ...appended]) expect(after.get(id)).toBe(1);
    for (const s of closed) {
      expect(await count('domain_events', s)).toBe(0);
      expect(await count('domain_events_archive', s)).toBe(3);
    }
  } finally {
    await holder.end();
    await watcher.end();
  }
});

describe.each([true, false])('tombstones (archive %s)', (archive) => {
  it('refuse a new OrderCreated for a retired Order id, with a typed error', async () => {
    const s = await order('OrderCompleted', 400);
    expect(await streamTombstoned(t.db, s)).toBeUndefined();
    await t.store.archiveClosedStreams({ olderThanDays: 365, closingEvents, archive });
    expect(await streamTombstoned(t.db, s)).toMatchObject({ lastVersion: 3, archived: archive });

    for (const expected of ['no_stream', 'any'] as const) {
      const reuse = t.store.appendToStream(s, expected, [
        { type: 'OrderCreated', data: { order_id: s.id, customer_id: 'mallory' } },
      ]);
      await expect(reuse).rejects.toBeInstanceOf(StreamTombstonedError);
      await expect(reuse).rejects.toMatchObject({ code: 'STREAM_TOMBSTONED', archived: archive });
    }
    expect(await count('domain_events', s)).toBe(0);
    expect(await count('domain_events_archive', s)).toBe(archive ? 3 : 0);
  });
});

it('moves an event that committed to a stream after its batch (a raced append) after it', async () => {
  const s = await order('OrderCompleted', 400);
  await t.store.archiveClosedStreams({ olderThanDays: 365, closingEvents, archive: true });
  // What an append whose statement began before the batch committed leaves behind.
  await t.pool.query(
    `INSERT INTO domain_events (event_id, aggregate_type, aggregate_id, version, event_type, event_data)
     VALUES ($1, $2, $3, 4, 'OrderNoteAdded', '{}')`,
    [randomUUID(), s.type, s.id],
  );
  const result = await t.store.archiveClosedStreams({
    olderThanDays: 365,
    closingEvents,
    archive: true,
  });
  expect(result.events).toBeGreaterThanOrEqual(1);
  expect(await count('domain_events', s)).toBe(0);
  expect(await count('domain_events_archive', s)).toBe(4);
  expect(await streamTombstoned(t.db, s)).toMatchObject({ lastVersion: 4 });
});

it('leaves no append planned against the emptier archive it started from', async () => {
  // Its own database: the archive is empty when the appending connection plans its statement.
  const fresh = await createTestDatabase();
  // One connection, so every append runs the statement it prepared before retention.
  const appenderDb = createDb<EventStoreTables>(createPool(fresh.url, { max: 1 }));
  const appender = createEventStore(appenderDb);
  const placeOrders = async (n: number) => {
    for (let i = 0; i < n; i++)
      await appender.appendToStream({ type: 'Order', id: randomUUID() }, 'no_stream', [
        { type: 'OrderCreated', data: { i } },
      ]);
  };
  /** Sequential scans of the tables an append checks, with the appender's counts flushed. */
  const seqScans = async () => {
    await sql`SELECT pg_stat_force_next_flush()`.execute(appenderDb);
    const { rows } = await fresh.pool.query<{ n: string }>(
      `SELECT sum(seq_scan) AS n FROM pg_stat_user_tables
       WHERE relname IN ('domain_events_archive', 'stream_tombstones')`,
    );
    return Number(rows[0]!.n);
  };
  try {
    // Past Postgres's five custom plans: the connection now runs one generic plan.
    await placeOrders(10);
    await fresh.pool.query(
      `INSERT INTO domain_events (event_id, aggregate_type, aggregate_id, version, event_type,
                                  event_data, created_at)
       SELECT gen_random_uuid(), 'Order', 'old-' || i, v, e, '{}', now() - interval '400 days'
       FROM generate_series(1, 3000) i,
            (VALUES (1, 'OrderCreated'), (2, 'OrderCompleted')) x(v, e)`,
    );
    const moved = await fresh.store.archiveClosedStreams({
      olderThanDays: 365,
      closingEvents,
      archive: true,
    });
    expect(moved.streams).toBe(3000);

    const before = await seqScans();
    await placeOrders(10);
    // Each append probes the archive's and the tombstones' indexes, whatever their size.
    expect(await seqScans()).toBe(before);
  } finally {
    await appenderDb.destroy();
    await fresh.close();
  }
});
