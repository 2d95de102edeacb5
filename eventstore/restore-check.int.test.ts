// The rebase after a logical restore on the real Postgres, while the store is in use: appends go
// on during it, and a reader never sees a gap (it reads a prefix of the restored log, then the
// rest, then what was appended meanwhile).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../test/harness';
import { createEventStore } from './postgres-event-store';
import { rebaseTransactionIds } from './restore-check';
import { type Checkpoint, START } from './types';

jest.setTimeout(60_000);

let r: TestDatabase;
beforeAll(async () => {
  r = await createTestDatabase();
});
afterAll(() => r.close());

it('appends and reads go on during a rebase, and the log stays gap-free', async () => {
  for (let i = 0; i < 6; i++) {
    await r.store.appendToStream(
      { type: 'Order', id: randomUUID() },
      'no_stream',
      [1, 2, 3, 4, 5].map((n) => ({ type: 'Happened', data: { n } })),
    );
  }
  // What a restore into another cluster leaves: every id far ahead of this server's counter.
  await r.pool.query(
    `UPDATE domain_events SET transaction_id = (900000000000 + global_position)::text::xid8`,
  );
  const { rows: ends } = await r.pool.query<{ min: string; max: string }>(
    'SELECT min(global_position) AS min, max(global_position) AS max FROM domain_events',
  );
  const [first, last] = [Number(ends[0]!.min), Number(ends[0]!.max)];
  const restored = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  expect(restored).toHaveLength(30);
  // A projection that had read the first ten events: its checkpoint maps exactly.
  await r.pool.query(
    `INSERT INTO projection_checkpoints (name, transaction_id, global_position)
     VALUES ('orders', (900000000000 + $1)::text::xid8, $1)`,
    [first + 9],
  );

  // Hold a row of the second batch: the rebase stops there with its first batch committed.
  const holder = new pg.Client({ connectionString: r.url });
  const watcher = new pg.Client({ connectionString: r.url });
  await holder.connect();
  await watcher.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM domain_events WHERE global_position = $1 FOR UPDATE', [
      first + 14,
    ]);
    const rebase = rebaseTransactionIds(r.db, { batchPositions: first + 9 });
    for (;;) {
      const { rows } = await watcher.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'
           AND query ILIKE 'UPDATE%SET transaction_id%'`,
      );
      if (Number(rows[0]!.n) > 0) break;
      await new Promise((res) => setTimeout(res, 20));
    }

    // A process starting now is not refused, and its append does not wait for the rebase.
    const store = createEventStore(r.db);
    const added = { type: 'Inventory', id: randomUUID() };
    const append = (async () => {
      await store.assertNotRestored();
      return store.appendToStream(added, 'no_stream', [{ type: 'Stocked', data: {} }]);
    })();
    const outcome = await Promise.race([
      append.then((a) => a.positions[0]!.globalPosition),
      new Promise<'blocked'>((res) => setTimeout(() => res('blocked'), 10_000)),
    ]);
    expect(outcome).toBe(last + 1);

    // A reader from the start sees the rebased prefix only: neither the rows not yet rebased
    // nor the new event, which would come before them.
    const during = await store.readAllFrom(START, 1000);
    expect(during.events.map((e) => e.globalPosition)).toEqual(restored.slice(0, 10));

    await holder.query('COMMIT');
    const result = await rebase;
    expect(result).toEqual({ events: 30, kept: ['orders'], toRebuild: [] });

    // The same reader goes on: the rest of the restored log, then the append, once each.
    const seen = during.events.map((e) => e.globalPosition);
    let checkpoint: Checkpoint = during.checkpoint;
    for (;;) {
      const batch = await store.readAllFrom(checkpoint, 7);
      if (batch.events.length === 0) break;
      seen.push(...batch.events.map((e) => e.globalPosition));
      checkpoint = batch.checkpoint;
    }
    expect(seen).toEqual([...restored, last + 1]);
    // The kept checkpoint now reads on from event 11.
    const { rows: cp } = await r.pool.query<{ tx: string; pos: string }>(
      `SELECT transaction_id::text AS tx, global_position AS pos FROM projection_checkpoints`,
    );
    expect(cp).toEqual([{ tx: '0', pos: String(first + 9) }]);
  } finally {
    await holder.end();
    await watcher.end();
  }
});
