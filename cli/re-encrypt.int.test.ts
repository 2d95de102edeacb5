// `npm run eventstore -- re-encrypt`'s work (eventstore/re-encrypt.ts) on the real Postgres and Temporal: orders written under an old key, a rotation,
// `reEncrypt` while appends go on, the old key removed, a restart: every stream (live, archived,
// snapshotted) loads, every read model rebuilds equal, and an order on an old product completes.
import { randomBytes, randomUUID } from 'node:crypto';
import { runRetention } from '../activities/retention.activities';
import { loadAggregate } from '../application';
import { grantCredit, restockProduct } from '../catalog/catalog';
import { CreditDecider } from '../domain/credit';
import { InventoryDecider } from '../domain/inventory';
import { allProjections } from '../projections';
import { rebuildProjection } from '../projections/rebuild';
import { ProjectionRunner } from '../projections/runner';
import {
  createTestDatabase,
  eventually,
  startTestWorker,
  type TestDatabase,
} from '../test/harness';
import { liveRows, READ_MODEL_TABLES } from '../test/sql-fold';
import { createDataConverter } from '../temporal/data-converter';
import {
  countStale,
  createEventStore,
  encryptionKeyId,
  eventStoreOptionsFromConfig,
  type EventStore,
  keyUsage,
  logRelation,
  reEncrypt,
  START,
} from '../eventstore';

jest.setTimeout(180_000);

const oldKey = randomBytes(32);
const newKey = randomBytes(32);
const settings = (encryptionKey: Buffer, decryptionKeys: Buffer[] = []) =>
  eventStoreOptionsFromConfig({
    compression: true,
    compressionThresholdBytes: 64,
    encryptionKey,
    decryptionKeys,
    // Small, so the product and customer streams carry snapshots to re-encrypt too.
    snapshotInterval: 2,
  });

let t: TestDatabase;
const runners: ProjectionRunner[] = [];
beforeAll(async () => {
  t = await createTestDatabase(settings(oldKey));
});
afterAll(async () => {
  await Promise.all(runners.map((r) => r.stop()));
  await t.close();
});

async function readModels(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of READ_MODEL_TABLES) out[table] = await liveRows(t.pool, table);
  return out;
}

async function atHead(): Promise<void> {
  await eventually(
    async () => {
      const { rows } = await t.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM projection_checkpoints c
         WHERE status = 'running' AND NOT EXISTS (
           SELECT 1 FROM ${logRelation('e', ['transaction_id', 'global_position'])}
           WHERE (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position))`,
      );
      return Number(rows[0]!.n) === allProjections.length ? true : undefined;
    },
    60_000,
    'every projection to reach the head of the log',
  );
}

it('rotate, re-encrypt while appending, remove the old key, restart: everything loads and rebuilds', async () => {
  const product = `SKU-${randomUUID()}`;
  const busy = `SKU-${randomUUID()}`;
  const customer = `customer-${randomUUID()}`;
  const oldStore = t.store;
  await restockProduct(oldStore, product, 100);
  await restockProduct(oldStore, busy, 1);
  await grantCredit(oldStore, customer, 1_000_000);

  // Orders under the old key, in the event store and in Temporal.
  const oldWorker = await startTestWorker(oldStore, {
    dataConverter: createDataConverter({ encryptionKey: oldKey }),
  });
  const orderIds: string[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const started = await oldWorker.orders.start({
        customerId: customer,
        items: [{ productId: product, quantity: 2, unitPriceCents: 500 }],
      });
      await oldWorker.client.workflow.getHandle(started.workflowId).result();
      orderIds.push(started.orderId);
    }
  } finally {
    await oldWorker.stop();
  }
  // One closed order goes to the archive.
  await t.pool.query(
    `UPDATE domain_events SET created_at = now() - interval '400 days' WHERE aggregate_id = $1`,
    [orderIds[0]],
  );
  const startRunner = async (store: EventStore) => {
    const r = new ProjectionRunner({
      databaseUrl: t.url,
      store,
      projections: allProjections,
      batchSize: 50,
      pollIntervalMs: 100,
    });
    runners.push(r);
    await r.start();
    return r;
  };
  const oldRunner = await startRunner(oldStore);
  await atHead();
  expect(
    (await runRetention(oldStore, { eventsDays: 365, snapshotsDays: 90, archive: true }))
      .archivedStreams,
  ).toBe(1);

  const oldId = encryptionKeyId(oldKey);
  const before = await keyUsage(t.db);
  for (const table of ['domain_events', 'domain_events_archive', 'aggregate_snapshots'] as const)
    expect(before.find((u) => u.table === table && u.keyId === oldId)?.payloads).toBeGreaterThan(0);

  // Rotate: every process restarts with the new key current and the old one kept for reading
  // (a process still on the old key alone could not read what the others now write); then the
  // re-encryption runs while appends and projections carry on.
  await oldRunner.stop();
  const rotated = createEventStore(t.db, settings(newKey, [oldKey]));
  const runner = await startRunner(rotated);
  const rotatedCodec = settings(newKey, [oldKey]).codec!;
  const positionsBefore = await t.pool.query<{
    event_id: string;
    global_position: string;
    transaction_id: string;
    version: number;
  }>(
    `SELECT event_id, global_position, transaction_id::text, version FROM domain_events ORDER BY global_position`,
  );
  let appending = true;
  const appends = (async () => {
    let n = 0;
    while (appending) {
      await restockProduct(rotated, busy, 1);
      n++;
    }
    return n;
  })();
  let batches = 0;
  const report = await reEncrypt(t.db, rotatedCodec, {
    batchSize: 3,
    onBatch: () => void batches++,
  });
  appending = false;
  const appended = await appends;
  expect(report.remaining).toBe(0);
  expect(report.rewritten.domain_events_archive).toBeGreaterThan(0);
  expect(report.rewritten.aggregate_snapshots).toBeGreaterThan(0);
  expect(batches).toBeGreaterThan(3);
  expect(appended).toBeGreaterThan(0);
  // Payload columns only: positions, transaction ids and versions are as they were.
  const positionsAfter = await t.pool.query<{
    event_id: string;
    global_position: string;
    transaction_id: string;
    version: number;
  }>(
    `SELECT event_id, global_position, transaction_id::text, version FROM domain_events
     WHERE global_position <= $1 ORDER BY global_position`,
    [positionsBefore.rows[positionsBefore.rows.length - 1]!.global_position],
  );
  expect(positionsAfter.rows).toEqual(positionsBefore.rows);
  expect(Object.values(await countStale(t.db, rotatedCodec))).toEqual([0, 0, 0]);
  const usage = await keyUsage(t.db);
  expect(usage.filter((u) => u.keyId !== encryptionKeyId(newKey))).toEqual([]);
  expect(new Set(usage.map((u) => u.codec))).toEqual(
    new Set(['aes-256-gcm-v2', 'gzip+aes-256-gcm-v2']),
  );

  // The projections keep reading (their checkpoints are untouched), then stop: the live models.
  await eventually(async () => {
    const { rows } = await t.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM domain_events WHERE aggregate_id = $1`,
      [busy],
    );
    return Number(rows[0]!.n) === 1 + appended ? true : undefined;
  });
  await atHead();
  await runner.stop();
  const live = await readModels();

  // The old key is gone: a restart with the new key alone.
  const newStore = createEventStore(t.db, settings(newKey));
  const all = await newStore.readAllFrom(START, 100_000);
  const stored = await t.pool.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM domain_events) + (SELECT count(*) FROM domain_events_archive) AS n`,
  );
  expect(all.events.length).toBe(Number(stored.rows[0]!.n));
  expect(all.events.length).toBeGreaterThan(positionsBefore.rows.length + appended);
  expect((await loadAggregate(newStore, InventoryDecider, product)).state).toMatchObject({
    onHand: 94,
  });
  expect((await loadAggregate(newStore, InventoryDecider, busy)).state).toMatchObject({
    onHand: 1 + appended,
  });
  expect((await loadAggregate(newStore, CreditDecider, customer)).state).toMatchObject({
    spentCents: 3000,
  });
  for (const projection of allProjections)
    await rebuildProjection({ databaseUrl: t.url, store: newStore, projection, batchSize: 7 });
  expect(await readModels()).toEqual(live);

  const newWorker = await startTestWorker(newStore, {
    dataConverter: createDataConverter({ encryptionKey: newKey }),
  });
  try {
    const started = await newWorker.orders.start({
      customerId: customer,
      items: [{ productId: product, quantity: 1, unitPriceCents: 500 }],
    });
    await newWorker.client.workflow.getHandle(started.workflowId).result();
    const events = await newStore.readStream({ type: 'Order', id: started.orderId });
    expect(events.map((e) => e.type)).toContain('OrderCompleted');
  } finally {
    await newWorker.stop();
  }
  expect((await loadAggregate(newStore, InventoryDecider, product)).state).toMatchObject({
    onHand: 93,
  });
});
