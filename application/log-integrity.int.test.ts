// The log stays whole on the real Postgres (issue 14): archived streams still own their ids,
// the global order holds inside callers' transactions, a restored database is refused, a failed
// snapshot never fails a committed command, and the smaller edges of the append.
import { randomUUID } from 'node:crypto';
import { InventoryDecider } from '../domain/inventory';
import { OrderDecider, type OrderCommand } from '../domain/order';
import { migrateToLatest } from '../migrations';
import { createTestDatabase, eventually, type TestDatabase } from '../test/harness';
import { AggregateCache } from './aggregate-cache';
import { handleCommand } from './handle-command';
import {
  ConcurrencyError,
  StreamTombstonedError,
  EventIdConflictError,
  RestoredDatabaseError,
} from '../eventstore/errors';
import { createEventStore, type EventStore } from '../eventstore';
import { rebaseTransactionIds } from '../eventstore/restore-check';
import { START, type StreamName } from '../eventstore/types';
import { defaultUpcasters } from '../eventstore/upcasters';

jest.setTimeout(60_000);

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.close());

const stream = (type = 'Test'): StreamName => ({ type, id: randomUUID() });
const ev = (n: number, eventId?: string) => ({ eventId, type: 'Happened', data: { n } });

/**
 * The stream's versions in global log order, once `count` of them are visible: the
 * pg_snapshot_xmin bound is cluster-wide, so another test's open transaction delays them.
 */
async function versionsInLog(store: EventStore, s: StreamName, count: number): Promise<number[]> {
  return eventually(async () => {
    const versions: number[] = [];
    for (let c = START; ;) {
      const batch = await store.readAllFrom(c, 1000);
      if (batch.events.length === 0) break;
      versions.push(...batch.events.filter((e) => e.streamId === s.id).map((e) => e.version));
      c = batch.checkpoint;
    }
    return versions.length >= count ? versions : undefined;
  });
}

async function ageAndArchive(s: StreamName, archive: boolean): Promise<void> {
  await t.pool.query(
    `UPDATE domain_events SET created_at = now() - interval '400 days'
     WHERE aggregate_type = $1 AND aggregate_id = $2`,
    [s.type, s.id],
  );
  const result = await t.store.archiveClosedStreams({
    olderThanDays: 365,
    closingEvents: { [s.type]: ['Closed', 'OrderCancelled', 'OrderCompleted'] },
    archive,
  });
  expect(result.streams).toBeGreaterThanOrEqual(1);
  const { rows } = await t.pool.query(
    'SELECT 1 FROM domain_events WHERE aggregate_type = $1 AND aggregate_id = $2',
    [s.type, s.id],
  );
  expect(rows).toHaveLength(0);
}

describe('archived streams keep their ids', () => {
  it('no_stream, idempotent retries, event-id conflicts and hasEvent see the archive', async () => {
    const s = stream();
    const ids = [randomUUID(), randomUUID()];
    const first = await t.store.appendToStream(s, 'no_stream', [
      ev(1, ids[0]),
      { eventId: ids[1], type: 'Closed', data: {} },
    ]);
    await ageAndArchive(s, true);

    const reused = await t.store.appendToStream(s, 'no_stream', [ev(9)]).catch((e: unknown) => e);
    // Its tombstone refuses the id, whatever the expected version.
    expect(reused).toBeInstanceOf(StreamTombstonedError);
    expect(reused).toMatchObject({ code: 'STREAM_TOMBSTONED', archived: true });

    // The retry of the archived append returns its original positions and writes nothing.
    const retried = await t.store.appendToStream(s, 'no_stream', [
      ev(1, ids[0]),
      { eventId: ids[1], type: 'Closed', data: {} },
    ]);
    expect(retried).toEqual(first);
    // An archived id used for another event is a conflict, not a new event.
    await expect(t.store.appendToStream(stream(), 'any', [ev(5, ids[0])])).rejects.toBeInstanceOf(
      EventIdConflictError,
    );
    expect(await t.store.hasEvent(ids[0]!)).toBe(true);
    expect((await t.store.readStream(s)).map((e) => e.eventId)).toEqual(ids);
    const { rows } = await t.pool.query(
      'SELECT 1 FROM domain_events WHERE aggregate_type = $1 AND aggregate_id = $2',
      [s.type, s.id],
    );
    expect(rows).toHaveLength(0);
  });
});

describe('an order id used again after its order was archived', () => {
  it('is refused by the stream’s tombstone, and the order still loads from the archive', async () => {
    const id = randomUUID();
    const create: OrderCommand = {
      type: 'CreateOrder',
      orderId: id,
      customerId: 'alice',
      currency: 'USD',
      lines: [{ productId: 'SKU-MUG', quantity: 1, unitPriceCents: 1250 }],
      shippingAddress: null,
      now: new Date().toISOString(),
    };
    await handleCommand(t.store, OrderDecider, id, create, { expectNew: true });
    await handleCommand(t.store, OrderDecider, id, {
      type: 'CompleteOrder',
      now: new Date().toISOString(),
    });
    await ageAndArchive({ type: 'Order', id }, true);

    const again = createEventStore(t.db); // another process: nothing cached
    await expect(
      handleCommand(
        again,
        OrderDecider,
        id,
        { ...create, customerId: 'mallory' },
        { expectNew: true },
      ),
    ).rejects.toMatchObject({ code: 'STREAM_TOMBSTONED', archived: true });
    expect((await again.readStream({ type: 'Order', id })).map((e) => e.type)).toEqual([
      'OrderCreated',
      'OrderItemAdded',
      'OrderCompleted',
    ]);
  });
});

describe('the global order inside callers’ transactions', () => {
  it('refuses, retryably, an append from a transaction older than the stream’s last one (T1/T2)', async () => {
    const s = stream();
    const other = stream();
    const refused = await t.store.db
      .transaction()
      .execute(async (trx) => {
        const inT1 = createEventStore(trx);
        // T1 takes its transaction id on another stream.
        await inT1.appendToStream(other, 'no_stream', [ev(0)]);
        // T2, younger, appends S v1 and commits.
        await t.store.appendToStream(s, 'no_stream', [ev(1)]);
        // T1 appends S v2: its row would sort before v1 in the log.
        return inT1.appendToStream(s, 1, [ev(2)]).catch((e: unknown) => e);
      })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'TRANSACTION_ORDER_CONFLICT', retryable: true });
    expect(String((refused as Error).message)).toContain('retry the transaction');
    // Retried in a new transaction, it goes through, after v1 in the log.
    await t.store.db.transaction().execute(async (trx) => {
      await createEventStore(trx).appendToStream(s, 1, [ev(2)]);
    });
    expect(await versionsInLog(t.store, s, 2)).toEqual([1, 2]);
  });
});

describe('a restored database', () => {
  it('is refused at start, with how to recover, until its transaction ids are rebased', async () => {
    const r = await createTestDatabase();
    try {
      const s = stream();
      await r.store.appendToStream(s, 'no_stream', [ev(1)]);
      // A row written by a cluster whose counter was far ahead of this one's.
      await r.pool.query(
        `INSERT INTO domain_events (transaction_id, event_id, aggregate_type, aggregate_id, version,
                                    event_type, event_data)
         VALUES ('900000000000'::xid8, $1, $2, $3, 2, 'Happened', '{"n": 2}')`,
        [randomUUID(), s.type, s.id],
      );
      const fresh = createEventStore(r.db);
      const refused = await fresh.assertNotRestored().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RestoredDatabaseError);
      expect((refused as Error).message).toMatch(
        /^Refusing to start: stored transaction ids reach 900000000000 .*npm run eventstore -- rebase-transaction-ids/,
      );
      expect((refused as Error).message).not.toContain('\n');
      await expect(fresh.readStream(s)).rejects.toBeInstanceOf(RestoredDatabaseError);
      await expect(fresh.appendToStream(s, 2, [ev(3)])).rejects.toBeInstanceOf(
        RestoredDatabaseError,
      );
      await expect(migrateToLatest(r.db)).rejects.toBeInstanceOf(RestoredDatabaseError);

      const rebased = await rebaseTransactionIds(r.db);
      expect(rebased.events).toBe(2);
      const after = createEventStore(r.db);
      await after.assertNotRestored();
      await after.appendToStream(s, 2, [ev(3)]);
      expect(await versionsInLog(after, s, 3)).toEqual([1, 2, 3]);
    } finally {
      await r.close();
    }
  });
});

describe('snapshots', () => {
  it('a snapshot write that fails after the append committed is logged and counted, not thrown', async () => {
    await t.pool.query(`
      CREATE FUNCTION refuse_snapshot() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'snapshot storage refused'; END $$;
      CREATE TRIGGER refuse_snapshot BEFORE INSERT ON aggregate_snapshots FOR EACH ROW
      WHEN (NEW.aggregate_id LIKE 'no-snap-%') EXECUTE FUNCTION refuse_snapshot();`);
    const warnings: { obj: object; msg: string }[] = [];
    const store = createEventStore(t.db, {
      snapshots: { interval: 1 },
      logger: { warn: (obj, msg) => warnings.push({ obj, msg }) },
    });
    const id = `no-snap-${randomUUID()}`;
    const result = await handleCommand(store, InventoryDecider, id, {
      type: 'Restock',
      productId: id,
      quantity: 5,
      now: new Date().toISOString(),
    });
    expect(result.version).toBe(1);
    expect(store.stats.snapshotWriteFailures).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain('snapshot write failed');
    expect((await store.readStream({ type: 'Inventory', id })).length).toBe(1);
    const { rows } = await t.pool.query(
      'SELECT 1 FROM aggregate_snapshots WHERE aggregate_id = $1',
      [id],
    );
    expect(rows).toHaveLength(0);
  });

  it('a snapshot folded under another upcaster set is ignored', async () => {
    const s = stream();
    await t.store.appendToStream(s, 'no_stream', [ev(1), ev(2)]);
    await t.store.writeSnapshot(s, 1, { version: 2, state: { folded: 'old set' } });
    expect((await t.store.readAggregate(s, 1)).snapshot).toEqual({
      version: 2,
      state: { folded: 'old set' },
    });
    const changed = createEventStore(t.db, {
      upcasters: defaultUpcasters().register('Happened', 1, (d) => ({ ...d, m: 0 })),
    });
    const read = await changed.readAggregate(s, 1);
    expect(read.snapshot).toBeUndefined();
    expect(read.events.map((e) => e.data)).toEqual([
      { n: 1, m: 0 },
      { n: 2, m: 0 },
    ]);
    // Written under the new set, it is that set's snapshot, and the old set no longer reads it.
    await changed.writeSnapshot(s, 1, { version: 2, state: { folded: 'new set' } });
    expect((await changed.readAggregate(s, 1)).snapshot?.state).toEqual({ folded: 'new set' });
    expect((await t.store.readAggregate(s, 1)).snapshot).toBeUndefined();
  });
});

describe('the aggregate cache', () => {
  const order = (id: string, customerId: string): OrderCommand => ({
    type: 'CreateOrder',
    orderId: id,
    customerId,
    currency: 'USD',
    lines: [{ productId: 'SKU-MUG', quantity: 1, unitPriceCents: 1250 }],
    shippingAddress: null,
    now: new Date().toISOString(),
  });

  it('a stream deleted by retention is never written again: a reused id and a stale cache are refused', async () => {
    const id = randomUUID();
    const s = { type: 'Order', id };
    // Process a caches the order, pending, for alice; b cancels it.
    const a = createEventStore(t.db);
    const cacheOfA = new AggregateCache(10);
    const b = createEventStore(t.db);
    await handleCommand(a, OrderDecider, id, order(id, 'alice'), {
      expectNew: true,
      cache: cacheOfA,
    });
    await handleCommand(b, OrderDecider, id, {
      type: 'CancelOrder',
      reason: 'test',
      now: new Date().toISOString(),
    });
    await ageAndArchive(s, false);
    // The deleted stream left a tombstone: bob's order under the same id is refused.
    await expect(
      handleCommand(b, OrderDecider, id, order(id, 'bob'), { expectNew: true }),
    ).rejects.toMatchObject({ code: 'STREAM_TOMBSTONED' });
    await expect(
      handleCommand(
        a,
        OrderDecider,
        id,
        { type: 'CompleteOrder', now: new Date().toISOString() },
        { cache: cacheOfA },
      ),
    ).rejects.toMatchObject({ code: 'STREAM_TOMBSTONED' });
    expect(await t.store.readStream(s)).toEqual([]);
  });
});

describe('appends', () => {
  it('an empty append still checks the expected version', async () => {
    const s = stream();
    await t.store.appendToStream(s, 'no_stream', [ev(1), ev(2)]);
    expect((await t.store.appendToStream(s, 2, [])).nextExpectedVersion).toBe(2);
    expect((await t.store.appendToStream(s, 'stream_exists', [])).nextExpectedVersion).toBe(2);
    await expect(t.store.appendToStream(s, 5, [])).rejects.toMatchObject({
      code: 'CONCURRENCY_CONFLICT',
      expected: 5,
      actual: 2,
    });
    await expect(t.store.appendToStream(s, 'no_stream', [])).rejects.toBeInstanceOf(
      ConcurrencyError,
    );
    await expect(t.store.appendToStream(stream(), 'stream_exists', [])).rejects.toBeInstanceOf(
      ConcurrencyError,
    );
  });

  it('a null payload and a repeated event id are refused with a clear error, writing nothing', async () => {
    const s = stream();
    await expect(
      t.store.appendToStream(s, 'no_stream', [ev(1), { type: 'Empty', data: null }]),
    ).rejects.toMatchObject({
      code: 'INVALID_APPEND',
      message: expect.stringContaining('event 1 (Empty) has no data') as unknown,
    });
    const id = randomUUID();
    await expect(
      t.store.appendToStream(s, 'no_stream', [ev(1, id), ev(2, id.toUpperCase())]),
    ).rejects.toMatchObject({
      code: 'INVALID_APPEND',
      message: expect.stringContaining(`event id ${id} appears twice`) as unknown,
    });
    expect(await t.store.readStream(s)).toEqual([]);
  });
});
