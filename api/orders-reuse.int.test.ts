// An order id reused after Temporal has forgotten its saga (the workflow deleted, as namespace
// retention or `temporal workflow delete` does), against the real dev server and Postgres: the
// event store keeps the order, so other content is a 409 and the same content is the order
// already started, live or archived by the event store's retention; and a saga started past
// the client (the Temporal CLI) stops at its create step with nothing reserved or charged.
import { randomUUID } from 'node:crypto';
import type express from 'express';
import request from 'supertest';
import { loadAggregate } from '../application';
import { grantCredit, restockProduct } from '../catalog/catalog';
import { OrderContentConflictError } from '../client/order-client';
import { CreditDecider } from '../domain/credit';
import { InventoryDecider } from '../domain/inventory';
import { loadConfig } from '../config';
import { freePort } from '../provision/ports';
import {
  ensureTemporalCli,
  startTemporalDevServer,
  type RunningTemporal,
} from '../provision/temporal';
import { checkSagaInvariants } from '../test/saga-invariants';
import {
  createTestDatabase,
  eventually,
  startTestWorker,
  type TestDatabase,
  type TestWorker,
} from '../test/harness';
import type { OrderSagaResult } from '../workflows/types';
import { createApp } from './app';

jest.setTimeout(120_000);

let t: TestDatabase;
let temporal: RunningTemporal;
let worker: TestWorker;
let app: express.Express;

beforeAll(async () => {
  t = await createTestDatabase();
  // A deleted workflow goes once the transfer queue's ack level has passed its close task, and
  // the server moves that level every history.transferProcessorUpdateAckInterval (30 s by
  // default): a server of its own with a short interval lets each deletion finish in seconds.
  temporal = await startTemporalDevServer({
    cliPath: await ensureTemporalCli(loadConfig().temporal.cliPath, () => undefined),
    port: await freePort(),
    dynamicConfig: { 'history.transferProcessorUpdateAckInterval': '1s' },
  });
  worker = await startTestWorker(t.store, { temporalAddress: temporal.address });
  app = createApp({ readDb: t.db, store: t.store, orders: worker.orders });
});

afterAll(async () => {
  await worker?.stop();
  await temporal?.stop();
  await t?.close();
});

interface Fixture {
  orderId: string;
  customerId: string;
  first: { productId: string; quantity: number; unitPriceCents: number }[];
  other: { productId: string; quantity: number; unitPriceCents: number }[];
  products: string[];
}

/** An order completed through POST /orders, then deleted from Temporal. */
async function completedThenForgotten(): Promise<Fixture & { runId: string }> {
  const id = randomUUID().slice(0, 8);
  const f: Fixture = {
    orderId: `reuse-${id}`,
    customerId: `cust-${id}`,
    first: [{ productId: `A-${id}`, quantity: 2, unitPriceCents: 250 }],
    other: [{ productId: `B-${id}`, quantity: 3, unitPriceCents: 100 }],
    products: [`A-${id}`, `B-${id}`],
  };
  for (const p of f.products) await restockProduct(t.store, p, 10);
  await grantCredit(t.store, f.customerId, 10_000);
  const created = await request(app)
    .post('/orders')
    .send({ orderId: f.orderId, customerId: f.customerId, items: f.first })
    .expect(202);
  expect(await worker.orders.result(f.orderId)).toMatchObject({ status: 'completed' });
  await worker.client.workflowService.deleteWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId: `order-${f.orderId}` },
  });
  // Deletion is asynchronous on the server: wait until Temporal no longer knows the saga.
  await eventually(
    () =>
      worker.client.workflow
        .getHandle(`order-${f.orderId}`)
        .describe()
        .then(
          () => undefined,
          (err: Error) => (err.name === 'WorkflowNotFoundError' ? true : undefined),
        ),
    20_000,
    'the workflow to be deleted',
  );
  return { ...f, runId: created.body.runId as string };
}

/** Everything the reused id could move: stock, credit (state and every event), the order. */
async function effects(f: Fixture) {
  const eventIds = async (type: string, id: string) =>
    (await t.store.readStream({ type, id })).map((e) => e.eventId);
  return {
    stock: await Promise.all(
      f.products.map(async (p) => ({
        state: (await loadAggregate(t.store, InventoryDecider, p)).state,
        events: await eventIds('Inventory', p),
      })),
    ),
    credit: (await loadAggregate(t.store, CreditDecider, f.customerId)).state,
    creditEvents: await eventIds('CustomerCredit', f.customerId),
    order: await eventIds('Order', f.orderId),
  };
}

const sagaGone = (orderId: string) =>
  worker.client.workflow
    .getHandle(`order-${orderId}`)
    .describe()
    .then(
      () => false,
      (err: Error) => err.name === 'WorkflowNotFoundError',
    );

/** A saga started past the order client, as `temporal workflow start` would: other items. */
async function startPastTheClient(f: Fixture): Promise<OrderSagaResult> {
  const handle = await worker.client.workflow.start('orderSaga', {
    workflowId: `order-${f.orderId}`,
    taskQueue: worker.taskQueue,
    args: [
      {
        orderId: f.orderId,
        customerId: f.customerId,
        currency: 'USD',
        items: f.other,
        shippingAddress: null,
        paymentConfirmationThresholdCents: 100_000,
        paymentConfirmationTimeoutMs: 10_000,
        correlationId: `past-the-client-${f.orderId}`,
      },
    ],
  });
  return handle.result() as Promise<OrderSagaResult>;
}

async function expectRefusedAndAnswered(f: Fixture & { runId: string }) {
  const before = await effects(f);

  const changed = await request(app)
    .post('/orders')
    .send({ orderId: f.orderId, customerId: f.customerId, items: f.other });
  expect(changed.status).toBe(409);
  expect(changed.body).toMatchObject({ status: 409, code: 'ORDER_ALREADY_EXISTS' });
  expect(changed.body.detail).toContain(f.orderId);
  await expect(
    worker.orders.start({ orderId: f.orderId, customerId: 'someone-else', items: f.first }),
  ).rejects.toBeInstanceOf(OrderContentConflictError);

  // The same order again: the one already started, answered from the event store.
  const same = await request(app)
    .post('/orders')
    .send({ orderId: f.orderId, customerId: f.customerId, items: f.first })
    .expect(202);
  expect(same.body).toEqual({
    orderId: f.orderId,
    workflowId: `order-${f.orderId}`,
    runId: f.runId,
  });
  const again = await worker.orders.start({
    orderId: f.orderId,
    customerId: f.customerId,
    items: f.first,
  });
  expect(again).toMatchObject({ started: false, runId: f.runId });

  expect(await sagaGone(f.orderId)).toBe(true); // no second saga
  expect(await effects(f)).toEqual(before);
}

test('a deleted saga: other content is 409, the same content is the order already started, nothing moves', async () => {
  const f = await completedThenForgotten();
  await expectRefusedAndAnswered(f);
});

test('a saga started past the client with a reused id stops at its create step with no effects', async () => {
  const f = await completedThenForgotten();
  const before = await effects(f);

  const result = await startPastTheClient(f);
  expect(result.status).toBe('cancelled');
  expect(result.reason).toMatch(/^ORDER_ALREADY_EXISTS: order .* exists with other content/);
  // The order stays completed (its compensation did not cancel another saga's order), B was
  // never reserved, nothing was charged.
  expect(await effects(f)).toEqual(before);
  const saga = await t.store.readStream({ type: 'OrderSaga', id: f.orderId });
  expect(saga.map((e) => e.type)).toEqual(['OrderCreateRefused']);
  const { violations } = await checkSagaInvariants(t.store);
  expect(violations).toEqual([]);
});

test('an order archived by retention is still refused with other content and answered with the same', async () => {
  const f = await completedThenForgotten();
  // Old enough for retention, then archived: the Order stream leaves the live table.
  await t.pool.query(
    `UPDATE domain_events SET created_at = now() - interval '400 days'
     WHERE aggregate_type = 'Order' AND aggregate_id = $1`,
    [f.orderId],
  );
  const archived = await t.store.archiveClosedStreams({
    olderThanDays: 365,
    closingEvents: { Order: ['OrderCompleted', 'OrderCancelled'] },
    archive: true,
  });
  expect(archived.streams).toBe(1);
  const { rows } = await t.pool.query<{ live: string; archive: string }>(
    `SELECT (SELECT count(*) FROM domain_events WHERE aggregate_type = 'Order' AND aggregate_id = $1) AS live,
            (SELECT count(*) FROM domain_events_archive WHERE aggregate_type = 'Order' AND aggregate_id = $1) AS archive`,
    [f.orderId],
  );
  expect(rows[0]).toEqual({ live: '0', archive: '3' });

  await expectRefusedAndAnswered(f);

  const before = await effects(f);
  const result = await startPastTheClient(f);
  expect(result).toMatchObject({ status: 'cancelled' });
  expect(result.reason).toMatch(/^ORDER_ALREADY_EXISTS/);
  expect(await effects(f)).toEqual(before);
});
