// Snapshot invalidation per aggregate type against the real Postgres: a new upcaster for an
// Order event makes Order snapshots invisible and leaves Inventory ones in use; snapshots stored
// under the former whole-registry fingerprint are ignored; the chain version does not depend on
// the tool that compiled the upcasters (tsx in a child process, the test transform here).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '../test/harness';
import { createEventStore } from './postgres-event-store';
import type { StreamName } from './types';
import { defaultUpcasters } from './upcasters';

jest.setTimeout(60_000);

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.close());

async function withSnapshot(stream: StreamName, type: string): Promise<void> {
  await t.store.appendToStream(stream, 'no_stream', [
    { type, data: { n: 1 } },
    { type, data: { n: 2 } },
  ]);
  await t.store.writeSnapshot(stream, 1, { version: 2, state: { folded: stream.id } });
}

test('a new OrderCreated upcaster ignores Order snapshots and keeps Inventory ones', async () => {
  const order: StreamName = { type: 'Order', id: randomUUID() };
  const inventory: StreamName = { type: 'Inventory', id: randomUUID() };
  await withSnapshot(order, 'OrderNoted');
  await withSnapshot(inventory, 'StockNoted');
  expect((await t.store.readAggregate(order, 1)).snapshot?.version).toBe(2);
  expect((await t.store.readAggregate(inventory, 1)).snapshot?.version).toBe(2);

  const next = createEventStore(t.db, {
    upcasters: defaultUpcasters().register('OrderCreated', 2, (d) => ({ ...d, gift: false }), {
      aggregateType: 'Order',
    }),
  });
  const orderRead = await next.readAggregate(order, 1);
  expect(orderRead.snapshot).toBeUndefined();
  expect(orderRead.events.map((e) => e.version)).toEqual([1, 2]);
  const inventoryRead = await next.readAggregate(inventory, 1);
  expect(inventoryRead.snapshot).toEqual({ version: 2, state: { folded: inventory.id } });
  expect(inventoryRead.events).toEqual([]);

  // The Order snapshot written under the new chains is the one the new store reads.
  await next.writeSnapshot(order, 1, { version: 2, state: { folded: 'again' } });
  expect((await next.readAggregate(order, 1)).snapshot?.state).toEqual({ folded: 'again' });
  expect((await next.readSnapshot(order, 1))?.state).toEqual({ folded: 'again' });
});

test('a snapshot stored under the former fingerprint is ignored once, then replaced', async () => {
  const stream: StreamName = { type: 'Inventory', id: randomUUID() };
  await t.store.appendToStream(stream, 'no_stream', [{ type: 'StockNoted', data: { n: 1 } }]);
  // What 3183615 stored: 16 hex digits of a hash of every upcaster's source.
  await t.pool.query(
    `INSERT INTO aggregate_snapshots (aggregate_type, aggregate_id, version, snapshot_version,
       upcaster_set, snapshot_data)
     VALUES ($1, $2, 1, 1, '0123456789abcdef', '{"stale": true}')`,
    [stream.type, stream.id],
  );
  const read = await t.store.readAggregate(stream, 1);
  expect(read.snapshot).toBeUndefined();
  expect(read.events.map((e) => e.version)).toEqual([1]);
  await t.store.writeSnapshot(stream, 1, { version: 1, state: { fresh: true } });
  expect((await t.store.readAggregate(stream, 1)).snapshot?.state).toEqual({ fresh: true });
});

test('the chain version is the same under tsx and the test transform', async () => {
  const script = `
    const { defaultUpcasters } = require(${JSON.stringify(path.join(__dirname, 'upcasters.ts'))});
    const r = defaultUpcasters();
    process.stdout.write(JSON.stringify(['Order', 'Inventory'].map((t) => r.chainVersion(t))));`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '-e', script],
    { cwd: path.join(__dirname, '..') },
  );
  const here = defaultUpcasters();
  expect(JSON.parse(stdout)).toEqual([here.chainVersion('Order'), here.chainVersion('Inventory')]);
  expect(here.chainVersion('Order')).not.toBe(here.chainVersion('Inventory'));
});
