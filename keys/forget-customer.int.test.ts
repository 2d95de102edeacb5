// Forgetting a customer, end to end, on the product as `npm start` composes it (bootstrap's
// worker, API and projector) against the real Postgres and Temporal: orders with shipping
// addresses for two customers, one order in flight waiting for its payment, one archived by
// retention; then POST /admin/customers/:id/forget. Afterwards every table, the archive, the
// snapshots, the read models, the Temporal histories (fetched with the Temporal CLI and decoded
// with every key the product has) and the logs are searched: the forgotten customer's address
// is nowhere readable, the other customer's is (so the search finds what is there), and the
// product still works: aggregates load, read models rebuild equal, the order in flight
// completes, the forgotten order id stays taken, and the customer can order again.
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { sql } from 'kysely';
import pino from 'pino';
import { runRetention } from '../activities/retention.activities';
import { loadAggregate } from '../application';
import { readOrderCreation } from '../application/order-creation';
import { startPieces, type Running } from '../bootstrap';
import { loadConfig } from '../config';
import { CreditDecider } from '../domain/credit';
import { InventoryDecider } from '../domain/inventory';
import { OrderDecider } from '../domain/order';
import { START } from '../eventstore';
import { allProjections } from '../projections';
import { rebuildProjection } from '../projections/rebuild';
import { temporalCli } from '../test/drills/upgrade';
import { createTestDatabase, eventually, type TestDatabase } from '../test/harness';
import { liveRows, READ_MODEL_TABLES } from '../test/sql-fold';
import { createDataConverter } from '../temporal/data-converter';
import { EncryptionCodec } from '../temporal/encryption-codec';
import { CustomerIdKey } from '../workflows/search-attributes';
import { DataKeyRing } from './data-key-ring';
import { localMasterKeys } from './master-key';
import { ERASED, isSealed, personalData } from './personal-data';

jest.setTimeout(240_000);

const masterKey = randomBytes(32);
const run = randomUUID().slice(0, 8);
const erin = `erin-${run}`;
const frank = `frank-${run}`;
const product = `sku-forget-${run}`;
// What must disappear, and what must stay findable, with every key the product holds.
const ERIN = ['Erin Forgetme', '42 Shredding Lane', 'Erasetown'];
const FRANK = ['Frank Keepme', '7 Staying Street'];
const erinAddress = { name: ERIN[0], street: ERIN[1], city: ERIN[2] };
const frankAddress = { name: FRANK[0], street: FRANK[1], city: 'Keepville' };

let t: TestDatabase;
let running: Running;
let base: string;
const logLines: string[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  const config = loadConfig({
    DATABASE_URL: t.url,
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS!,
    TEMPORAL_TASK_QUEUE: `forget-${run}`,
    TEMPORAL_WORKER_VERSIONING: 'false',
    EVENT_STORE_ENCRYPTION_KEY: masterKey.toString('base64'),
    // Every aggregate carries snapshots, so they are searched too.
    SNAPSHOT_INTERVAL: '2',
    PAYMENT_CONFIRMATION_THRESHOLD_CENTS: '50000',
    PORT: '0',
    LOG_LEVEL: 'debug',
  });
  const logs = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  running = await startPieces(config, pino({ level: 'debug' }, logs), {
    pieces: ['worker', 'api', 'projector'],
    host: '127.0.0.1',
  });
  base = `http://127.0.0.1:${running.port}`;
});

afterAll(async () => {
  await running?.stop();
  await t?.close();
});

const post = (path: string, body?: unknown) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });

async function orderStatus(orderId: string): Promise<string | undefined> {
  const res = await fetch(`${base}/orders/${orderId}`);
  return res.ok ? ((await res.json()) as { status: string }).status : undefined;
}

const until = (orderId: string, status: string) =>
  eventually(
    async () => ((await orderStatus(orderId)) === status ? true : undefined),
    60_000,
    `order ${orderId} ${status}`,
  );

async function placeOrder(customerId: string, address: object, quantity = 1, unit = 1000) {
  const orderId = `order-${randomUUID()}`;
  const res = await post('/orders', {
    orderId,
    customerId,
    items: [{ productId: product, quantity, unitPriceCents: unit }],
    shippingAddress: address,
  });
  expect(res.status).toBe(202);
  return orderId;
}

/** Every stored value an operator holding all of the product's keys can read. */
async function readableEverywhere(ring: DataKeyRing): Promise<string> {
  const personal = personalData(ring);
  const texts: string[] = [];
  /** Sealed fields opened where their key still exists (what forgetting must prevent). */
  const opened = async (value: unknown, customerId?: string): Promise<unknown> => {
    if (isSealed(value)) {
      for (const c of [erin, frank, customerId ?? ''])
        try {
          return await personal.open(c, 'shipping_address', value);
        } catch {
          // bound to another customer: try the next
        }
      return value;
    }
    if (Array.isArray(value)) return Promise.all(value.map((v) => opened(v, customerId)));
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = await opened(v, customerId);
      return out;
    }
    return value;
  };

  // Every row of every table of the database, as Postgres holds it.
  const { rows: tables } = await sql<{ schema: string; name: string }>`
    SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
    WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`.execute(
    t.db,
  );
  expect(tables.map((x) => x.name)).toEqual(
    expect.arrayContaining([
      'domain_events',
      'domain_events_archive',
      'aggregate_snapshots',
      'encryption_keys',
    ]),
  );
  for (const table of tables) {
    const { rows } = await sql<{ row: string }>`
      SELECT row_to_json(x)::text AS row FROM ${sql.table(`${table.schema}.${table.name}`)} x`.execute(
      t.db,
    );
    texts.push(...rows.map((r) => r.row));
  }
  // The events decrypted (live and archived), their sealed fields opened.
  const all = await running.store.readAllFrom(START, 100_000);
  for (const e of all.events) texts.push(JSON.stringify(await opened(e.data)));
  // The aggregates as loaded (from their snapshots, which every aggregate here has).
  const { rows: snapshots } = await sql<{ aggregate_type: string; aggregate_id: string }>`
    SELECT DISTINCT aggregate_type, aggregate_id FROM aggregate_snapshots`.execute(t.db);
  expect(snapshots.length).toBeGreaterThan(0);
  for (const s of snapshots) {
    const decider = {
      Order: OrderDecider,
      Inventory: InventoryDecider,
      CustomerCredit: CreditDecider,
    }[s.aggregate_type];
    if (decider)
      texts.push(
        JSON.stringify(
          await opened(
            (await loadAggregate(running.store, decider as never, s.aggregate_id)).state,
          ),
        ),
      );
  }
  // Temporal's histories, through the CLI, every payload decoded with the Temporal data keys.
  const codec = new EncryptionCodec({ keys: ring.source('temporal') });
  const { rows: workflows } = await sql<{ workflow_id: string }>`
    SELECT DISTINCT metadata->>'workflowId' AS workflow_id FROM domain_events
    WHERE metadata ? 'workflowId'`.execute(t.db);
  expect(workflows.length).toBeGreaterThan(0);
  for (const { workflow_id } of workflows) {
    const out = await temporalCli(process.env.TEST_TEMPORAL_ADDRESS!, [
      'workflow',
      'show',
      '--workflow-id',
      workflow_id,
      '--namespace',
      'default',
      '--output',
      'json',
    ]);
    texts.push(out);
    const payloads: Payload[] = [];
    const collect = (node: unknown) => {
      if (Array.isArray(node)) return node.forEach(collect);
      if (!node || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      if (typeof o.data === 'string' && o.metadata && typeof o.metadata === 'object') {
        const metadata: Record<string, Uint8Array> = {};
        for (const [k, v] of Object.entries(o.metadata as Record<string, string>))
          metadata[k] = Buffer.from(v, 'base64');
        payloads.push({ metadata, data: Buffer.from(o.data, 'base64') });
        return;
      }
      Object.values(o).forEach(collect);
    };
    collect(JSON.parse(out));
    expect(payloads.length).toBeGreaterThan(0);
    for (const p of await codec.decode(payloads)) {
      const text = Buffer.from(p.data ?? []).toString('utf8');
      let value: unknown = text;
      try {
        value = JSON.parse(text);
      } catch {
        // not JSON: searched as it is
      }
      texts.push(JSON.stringify(await opened(value)));
    }
  }
  texts.push(...logLines);
  return texts.join('\n');
}

test('a forgotten customer is nowhere readable, and everything else goes on', async () => {
  expect((await post(`/products/${product}/restock`, { quantity: 100 })).status).toBe(200);
  for (const c of [erin, frank])
    expect((await post(`/customers/${c}/credit`, { cents: 1_000_000 })).status).toBe(200);

  const done = [await placeOrder(erin, erinAddress), await placeOrder(erin, erinAddress)];
  const frankOrder = await placeOrder(frank, frankAddress);
  // Above PAYMENT_CONFIRMATION_THRESHOLD_CENTS: the saga waits for its confirmation.
  const inFlight = await placeOrder(erin, erinAddress, 1, 60_000);
  for (const id of [...done, frankOrder]) await until(id, 'completed');
  await eventually(
    async () => {
      const res = await fetch(`${base}/orders/${inFlight}/saga`);
      return res.ok &&
        ((await res.json()) as { status: string }).status === 'awaiting_payment_confirmation'
        ? true
        : undefined;
    },
    60_000,
    'the large order to wait for its payment',
  );
  // One closed order of Erin's is archived by retention.
  await t.pool.query(
    `UPDATE domain_events SET created_at = now() - interval '400 days' WHERE aggregate_id = $1`,
    [done[0]],
  );
  const policy = { eventsDays: 365, snapshotsDays: 90, archive: true };
  expect((await runRetention(running.store as never, policy)).archivedStreams).toBe(1);

  const ring = await DataKeyRing.open(t.db, localMasterKeys(masterKey));
  // Before: sealed at rest, readable with the keys.
  const before = await readableEverywhere(ring);
  for (const marker of [...ERIN, ...FRANK]) expect(before).toContain(marker);
  const { rows: raw } = await t.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM domain_events WHERE event_data::text LIKE '%Shredding%'`,
  );
  expect(Number(raw[0]!.n)).toBe(0);

  const forgotten = await post(`/admin/customers/${erin}/forget`);
  expect(forgotten.status).toBe(200);
  expect(await forgotten.json()).toEqual({ customerId: erin, keysDestroyed: 1 });

  // The order in flight carries on: it never opens the address.
  expect((await post(`/orders/${inFlight}/confirm-payment`, { amountCents: 60_000 })).status).toBe(
    200,
  );
  await until(inFlight, 'completed');

  // Read as a process that opens its keys now (one that had the key in memory drops it within
  // its customerKeyTtlMs).
  const fresh = await DataKeyRing.open(t.db, localMasterKeys(masterKey));
  const after = await readableEverywhere(fresh);
  for (const marker of ERIN) expect(after).not.toContain(marker);
  for (const marker of FRANK) expect(after).toContain(marker);

  // Temporal's visibility, which it indexes in clear, lists sagas by reference, never by id;
  // after the forget no one can compute Erin's old reference again.
  const connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
  try {
    const temporal = new Client({
      connection,
      namespace: 'default',
      dataConverter: createDataConverter({
        encryptionKey: masterKey,
        temporalKeys: fresh.source('temporal'),
      }),
    });
    const listed = async (value: string) => {
      const ids: string[] = [];
      for await (const w of temporal.workflow.list({ query: `CustomerId = '${value}'` }))
        ids.push(w.workflowId);
      return ids.sort();
    };
    const frankRef = await personalData(fresh).reference(frank);
    await eventually(
      async () => ((await listed(frankRef!)).includes(`order-${frankOrder}`) ? true : undefined),
      20_000,
      "Frank's saga listed by his reference",
    );
    expect(await listed(erin)).toEqual([]);
    expect(await listed(frank)).toEqual([]);
    const erinRefBefore = (
      await temporal.workflow.getHandle(`order-${done[1]}`).describe()
    ).typedSearchAttributes.get(CustomerIdKey);
    expect(erinRefBefore).toMatch(/^c-[0-9a-f]{32}$/);
    expect(await personalData(fresh).reference(erin)).not.toBe(erinRefBefore);
  } finally {
    await connection.close();
  }

  // The product still works with what is left.
  const created = await readOrderCreation(running.store, done[1]!, personalData(fresh));
  expect(created?.content.shippingAddress).toEqual(ERASED);
  expect((await loadAggregate(running.store, OrderDecider, done[1]!)).state).toMatchObject({
    status: 'completed',
  });
  // Its order ids stay taken: the stored address can no longer equal any request.
  const reused = await post('/orders', {
    orderId: done[1],
    customerId: erin,
    items: [{ productId: product, quantity: 1, unitPriceCents: 1000 }],
    shippingAddress: erinAddress,
  });
  expect(reused.status).toBe(409);
  // Read models rebuild from the log equal to what the projector built live.
  await eventually(async () => {
    const res = await fetch(`${base}/projections`);
    const body = (await res.json()) as { items: { lagEvents: number }[] };
    return body.items.every((p) => p.lagEvents === 0) ? true : undefined;
  });
  const live: Record<string, string[]> = {};
  for (const table of READ_MODEL_TABLES) live[table] = await liveRows(t.pool, table);
  for (const projection of allProjections)
    await rebuildProjection({ databaseUrl: t.url, store: running.store, projection, batchSize: 5 });
  for (const table of READ_MODEL_TABLES) expect(await liveRows(t.pool, table)).toEqual(live[table]);
  // And the customer may come back: a new key, a new order.
  const comeback = await placeOrder(erin, erinAddress);
  await until(comeback, 'completed');
  const again = await readOrderCreation(running.store, comeback, personalData(fresh));
  expect(again?.content.shippingAddress).toEqual(erinAddress);
});
