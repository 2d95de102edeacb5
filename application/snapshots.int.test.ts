// Snapshots through handleCommand/loadAggregate on the real Postgres: written every N events,
// loaded transparently (newest snapshot + the events after it), ignored when of another shape,
// encrypted like events, and cleaned up keeping each aggregate's newest.
import { randomBytes, randomUUID } from 'node:crypto';
import { InventoryDecider, type InventoryCommand } from '../domain/inventory';
import { createTestDatabase, type TestDatabase } from '../test/harness';
import { handleCommand, loadAggregate } from './handle-command';
import { createEventStore } from '../eventstore/postgres-event-store';
import { eventStoreOptionsFromConfig } from '../eventstore/options-from-config';

// jest.config.js's per-project testTimeout is not applied by Jest: these tests race real
// writers and wait on Temporal, which under load takes longer than Jest's default 5 s.
jest.setTimeout(60_000);

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.close());

const restock = (productId: string, quantity: number): InventoryCommand => ({
  type: 'Restock',
  productId,
  quantity,
  now: new Date().toISOString(),
});

async function snapshotVersions(type: string, id: string): Promise<number[]> {
  const { rows } = await t.pool.query<{ version: number }>(
    'SELECT version FROM aggregate_snapshots WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version',
    [type, id],
  );
  return rows.map((r) => r.version);
}

it('snapshots every N events and loads from the newest snapshot plus the events after it', async () => {
  const store = createEventStore(t.db, { snapshots: { interval: 5 } });
  const noSnapshots = createEventStore(t.db, { snapshots: { interval: 0 } });
  const id = `SKU-${randomUUID()}`;
  for (let i = 1; i <= 12; i++) await handleCommand(store, InventoryDecider, id, restock(id, i));
  expect(await snapshotVersions('Inventory', id)).toEqual([5, 10]);

  const loaded = await loadAggregate(store, InventoryDecider, id);
  const folded = await loadAggregate(noSnapshots, InventoryDecider, id);
  expect(loaded).toMatchObject({ version: 12, snapshotVersion: 10, state: folded.state });
  expect(folded).toMatchObject({ snapshotVersion: 0, state: { onHand: 78 } });

  // Prove the snapshot is what is read: doctor it, and the load reflects it (events 11-12 on top).
  await t.pool.query(
    `UPDATE aggregate_snapshots SET snapshot_data = jsonb_set(snapshot_data, '{onHand}', '1000')
     WHERE aggregate_type = 'Inventory' AND aggregate_id = $1 AND version = 10`,
    [id],
  );
  expect((await loadAggregate(store, InventoryDecider, id)).state.onHand).toBe(1000 + 11 + 12);

  // A decider whose state changed shape ignores the old snapshots and folds every event.
  const reshaped = { ...InventoryDecider, snapshotVersion: 2 };
  expect(await loadAggregate(store, reshaped, id)).toMatchObject({
    version: 12,
    snapshotVersion: 0,
    state: { onHand: 78 },
  });
  // ...and writes a snapshot of the new shape once enough events pile up.
  await handleCommand(store, reshaped, id, restock(id, 1));
  const { rows } = await t.pool.query<{ version: number; snapshot_version: number }>(
    `SELECT version, snapshot_version FROM aggregate_snapshots
     WHERE aggregate_type = 'Inventory' AND aggregate_id = $1 AND snapshot_version = 2`,
    [id],
  );
  expect(rows).toEqual([{ version: 13, snapshot_version: 2 }]);
  expect((await loadAggregate(store, reshaped, id)).state.onHand).toBe(79);
});

it('a per-type interval overrides the default, and snapshots are encrypted with a key', async () => {
  const store = createEventStore(
    t.db,
    eventStoreOptionsFromConfig({
      compression: false,
      encryptionKey: randomBytes(32),
      snapshotInterval: 100,
      snapshotIntervalByType: { INVENTORY: 3 },
    }),
  );
  const id = `SKU-${randomUUID()}`;
  for (let i = 1; i <= 7; i++) await handleCommand(store, InventoryDecider, id, restock(id, 1));
  expect(await snapshotVersions('Inventory', id)).toEqual([3, 6]);
  const { rows } = await t.pool.query<{ codec: string; snapshot_data: unknown; bytes: Buffer }>(
    `SELECT codec, snapshot_data, snapshot_data_bytes AS bytes FROM aggregate_snapshots
     WHERE aggregate_id = $1`,
    [id],
  );
  for (const row of rows) {
    expect(row).toMatchObject({ codec: 'aes-256-gcm-v2', snapshot_data: null });
    expect(row.bytes.toString('latin1')).not.toContain('onHand');
  }
  expect(await loadAggregate(store, InventoryDecider, id)).toMatchObject({
    version: 7,
    snapshotVersion: 6,
    state: { onHand: 7 },
  });
});

it("cleanup(maxAgeDays) deletes old snapshots but keeps each aggregate's newest", async () => {
  const store = createEventStore(t.db, { snapshots: { interval: 2 } });
  const quiet = `SKU-${randomUUID()}`;
  const busy = `SKU-${randomUUID()}`;
  for (let i = 0; i < 4; i++)
    await handleCommand(store, InventoryDecider, quiet, restock(quiet, 1));
  for (let i = 0; i < 6; i++) await handleCommand(store, InventoryDecider, busy, restock(busy, 1));
  // Every snapshot of the quiet product is old; the busy one's newest is fresh.
  await t.pool.query(
    `UPDATE aggregate_snapshots SET created_at = now() - interval '200 days'
     WHERE aggregate_id = $1 OR (aggregate_id = $2 AND version < 6)`,
    [quiet, busy],
  );
  const before = await loadAggregate(store, InventoryDecider, quiet);
  const deleted = await store.cleanupSnapshots(90);
  expect(deleted).toBeGreaterThanOrEqual(3);
  expect(await snapshotVersions('Inventory', quiet)).toEqual([4]);
  expect(await snapshotVersions('Inventory', busy)).toEqual([6]);
  expect(await loadAggregate(store, InventoryDecider, quiet)).toEqual(before);
});
