// The projections keep the log whole on the real Postgres (issue 14): a rebuild after retention
// equals the live read models, retention waits for every projection, a reused order id fails
// the orders projection instead of overwriting the order, an undecodable event fails only the
// projections that handle it (named), and the narrow read upcasts with the store's upcasters.
import { randomBytes, randomUUID } from 'node:crypto';
import { runRetention } from '../activities/retention.activities';
import {
  createEventStore,
  createPayloadCodec,
  type EventStore,
  logRelation,
  UpcasterRegistry,
} from '../eventstore';
import { createTestDatabase, eventually, type TestDatabase } from '../test/harness';
import { allProjections } from './index';
import { ordersProjection } from './orders.projection';
import type { Projection } from './projection';
import { RebuildFailedError, rebuildProjection } from './rebuild';
import { ProjectionRunner } from './runner';
import { appendHistory } from '../test/sample-history';
import { liveRows, READ_MODEL_TABLES } from '../test/sql-fold';

jest.setTimeout(120_000);

let t: TestDatabase;
const runners: ProjectionRunner[] = [];

beforeEach(async () => {
  t = await createTestDatabase();
});
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop()));
  await t.close();
});

async function startRunner(
  projections: readonly Projection[] = allProjections,
  store: EventStore = t.store,
): Promise<ProjectionRunner> {
  const runner = new ProjectionRunner({
    databaseUrl: t.url,
    store,
    projections,
    batchSize: 50,
    pollIntervalMs: 100,
  });
  runners.push(runner);
  await runner.start();
  return runner;
}

/** These projections are running with their checkpoint at the end of the (whole) log. */
async function atHead(names: readonly string[]): Promise<void> {
  await eventually(
    async () => {
      const { rows } = await t.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM projection_checkpoints c
         WHERE c.name = ANY($1) AND status = 'running' AND NOT EXISTS (
           SELECT 1 FROM ${logRelation('e', ['transaction_id', 'global_position'])}
           WHERE (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position))`,
        [names],
      );
      return Number(rows[0]!.n) === names.length ? true : undefined;
    },
    60_000,
    `${names.join(', ')} to reach the head of the log`,
  );
}

async function failedWith(name: string): Promise<string> {
  return eventually(
    async () => {
      const { rows } = await t.pool.query<{ status: string; last_error: string | null }>(
        'SELECT status, last_error FROM projection_checkpoints WHERE name = $1',
        [name],
      );
      return rows[0]?.status === 'failed' ? (rows[0].last_error ?? '') : undefined;
    },
    60_000,
    `${name} to fail`,
  );
}

async function readModels(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of READ_MODEL_TABLES) out[table] = await liveRows(t.pool, table);
  return out;
}

const names = allProjections.map((p) => p.name);

describe('retention', () => {
  it('a rebuild of every projection after retention equals the live read models, row for row', async () => {
    await appendHistory(t.store, { orders: 60, cancelEvery: 4 });
    const runner = await startRunner();
    await atHead(names);
    const before = await readModels();
    expect(before['orders']!.length).toBe(60);

    await t.pool.query(`UPDATE domain_events SET created_at = now() - interval '400 days'`);
    const report = await runRetention(t.store, {
      eventsDays: 365,
      snapshotsDays: 90,
      archive: true,
    });
    expect(report.archivedStreams).toBe(60);
    await runner.stop();

    for (const projection of allProjections)
      await rebuildProjection({ databaseUrl: t.url, store: t.store, projection, batchSize: 70 });
    expect(await readModels()).toEqual(before);
  });

  it('archives only streams every projection has read', async () => {
    await appendHistory(t.store, { orders: 10 });
    await t.pool.query(`UPDATE domain_events SET created_at = now() - interval '400 days'`);
    // A projection that has read nothing yet (failed, or far behind).
    await t.pool.query(`INSERT INTO projection_checkpoints (name) VALUES ('orders')`);
    const policy = { eventsDays: 365, snapshotsDays: 90, archive: false };
    expect((await runRetention(t.store, policy)).archivedStreams).toBe(0);

    await startRunner([ordersProjection]);
    await atHead(['orders']);
    expect((await runRetention(t.store, policy)).archivedStreams).toBe(10);
  });
});

describe('a second OrderCreated for an existing order', () => {
  const created = (id: string, customer: string) => ({
    type: 'OrderCreated',
    data: { order_id: id, customer_id: customer, currency: 'USD', shipping_address: null },
  });

  it('fails the orders projection, naming the event, instead of overwriting a completed order', async () => {
    const id = `order-${randomUUID()}`;
    const s = { type: 'Order', id };
    await t.store.appendToStream(s, 'no_stream', [
      created(id, 'alice'),
      {
        type: 'OrderItemAdded',
        data: { order_id: id, product_id: 'SKU-MUG', quantity: 2, unit_price: 500, tax_amount: 0 },
      },
      { type: 'OrderCompleted', data: { order_id: id } },
    ]);
    await startRunner([ordersProjection]);
    await atHead(['orders']);
    // Reached through an id reused after its stream left the live table.
    await t.store.appendToStream(s, 'any', [created(id, 'mallory')]);

    expect(await failedWith('orders')).toMatch(
      new RegExp(`\\(OrderCreated Order-${id} v4\\): order ${id} already exists`),
    );
    const { rows } = await t.pool.query(
      'SELECT customer_id, status, total_amount FROM read_models.orders WHERE id = $1',
      [id],
    );
    expect(rows).toEqual([{ customer_id: 'alice', status: 'completed', total_amount: '1000' }]);
  });

  it('fails it too when both are in one batch (replayed one event at a time)', async () => {
    const id = `order-${randomUUID()}`;
    const s = { type: 'Order', id };
    await t.store.appendToStream(s, 'no_stream', [created(id, 'alice')]);
    await t.store.appendToStream(s, 'any', [created(id, 'mallory')]);
    await startRunner([ordersProjection]);

    expect(await failedWith('orders')).toMatch(
      new RegExp(`\\(OrderCreated Order-${id} v2\\): order ${id} already exists`),
    );
    const { rows } = await t.pool.query(
      'SELECT customer_id FROM read_models.orders WHERE id = $1',
      [id],
    );
    expect(rows).toEqual([{ customer_id: 'alice' }]);
  });
});

describe('an event that cannot be decoded', () => {
  it('fails only the projections that handle it, naming it; the others go on; a rebuild says why', async () => {
    await appendHistory(t.store, { orders: 5, prefix: 'a-' });
    // Written by a process whose key this runner's store does not have.
    const keyed = createEventStore(t.db, {
      codec: createPayloadCodec({ encryptionKey: randomBytes(32) }),
    });
    const customer = { type: 'CustomerCredit', id: `customer-${randomUUID()}` };
    const granted = await keyed.appendToStream(customer, 'no_stream', [
      { type: 'CreditGranted', data: { customer_id: customer.id, amount_cents: 100 } },
    ]);
    // No projection handles this type: it is never decoded, so it fails nothing.
    await keyed.appendToStream({ type: 'Audit', id: randomUUID() }, 'no_stream', [
      { type: 'AuditNoted', data: { note: 'secret' } },
    ]);
    await appendHistory(t.store, { orders: 5, prefix: 'b-' });

    await startRunner();
    const error = await failedWith('customer_credit');
    expect(error).toContain(
      `event ${granted.positions[0]!.globalPosition} (CreditGranted CustomerCredit-${customer.id} v1)`,
    );
    expect(error).toContain('ENCRYPTION_KEY_MISSING');
    await atHead(['orders', 'inventory']);
    const { rows } = await t.pool.query<{ id: string }>('SELECT id FROM read_models.orders');
    expect(rows.map((r) => r.id).filter((id) => id.startsWith('b-'))).toHaveLength(5);

    const credit = allProjections.find((p) => p.name === 'customer_credit')!;
    const rebuild = await rebuildProjection({
      databaseUrl: t.url,
      store: t.store,
      projection: credit,
    }).catch((e: unknown) => e);
    expect(rebuild).toBeInstanceOf(RebuildFailedError);
    expect((rebuild as Error).message).toMatch(
      new RegExp(
        `^rebuild of customer_credit stopped at event ${granted.positions[0]!.globalPosition} \\(CreditGranted CustomerCredit-${customer.id} v1\\): .*ENCRYPTION_KEY_MISSING.*the live read model is unchanged$`,
      ),
    );
  });
});

it("the projections' narrow read upcasts with the store's upcasters", async () => {
  const upcasters = new UpcasterRegistry()
    .register('OrderCreated', 1, (d) => ({ ...d, currency: d['currency'] ?? 'EUR' }))
    .register('OrderItemAdded', 1, (d) => ({ ...d, tax_amount: 0 }));
  const store = createEventStore(t.db, { upcasters });
  const id = `order-${randomUUID()}`;
  await store.appendToStream({ type: 'Order', id }, 'no_stream', [
    { type: 'OrderCreated', schemaVersion: 1, data: { order_id: id, customer_id: 'alice' } },
  ]);
  await startRunner([ordersProjection], store);
  await atHead(['orders']);
  const { rows } = await t.pool.query('SELECT currency FROM read_models.orders WHERE id = $1', [
    id,
  ]);
  expect(rows).toEqual([{ currency: 'EUR' }]);
});
