// The walking skeleton end to end: Temporal client -> orderSaga -> activities -> domain_events
// -> projection runner -> read_models.orders, against the real dev server and Postgres; and
// which path a saga takes, started by the client, otherwise, or with an earlier client's stamp.
import { Client } from '@temporalio/client';
import { grantCredit, restockProduct } from '../catalog/catalog';
import { createOrderClient } from '../client/order-client';
import { allProjections, findOrder, ProjectionRunner } from '../projections';
import {
  createTestDatabase,
  eventually,
  startTestWorker,
  type TestDatabase,
  type TestWorker,
} from '../test/harness';

/** The patch the saga's newest path records (workflows/order-saga.workflow.ts). */
const HOT_PATH_PATCH = 'order-saga-hot-path-v3';

let database: TestDatabase;
let worker: TestWorker;
let runner: ProjectionRunner;

beforeAll(async () => {
  database = await createTestDatabase();
  worker = await startTestWorker(database.store);
  runner = new ProjectionRunner({
    databaseUrl: database.url,
    store: database.store,
    projections: allProjections,
    pollIntervalMs: 200,
  });
  await runner.start();
});

afterAll(async () => {
  await runner?.stop();
  await worker?.stop();
  await database?.close();
});

test('an order travels from the Temporal client to read_models.orders', async () => {
  await restockProduct(database.store, 'SKU-A', 10);
  await restockProduct(database.store, 'SKU-B', 10);
  await grantCredit(database.store, 'cust-1', 100_00);

  const started = await worker.orders.start({
    orderId: 'order-happy-1',
    customerId: 'cust-1',
    items: [
      { productId: 'SKU-A', quantity: 2, unitPriceCents: 1_250 },
      { productId: 'SKU-B', quantity: 1, unitPriceCents: 999 },
    ],
  });
  expect(started.workflowId).toBe('order-order-happy-1');
  await expect(worker.orders.result('order-happy-1')).resolves.toEqual({
    orderId: 'order-happy-1',
    status: 'completed',
    reason: null,
  });

  const orderEvents = await database.store.readStream({ type: 'Order', id: 'order-happy-1' });
  expect(orderEvents.map((e) => [e.type, e.version])).toEqual([
    ['OrderCreated', 1],
    ['OrderItemAdded', 2],
    ['OrderItemAdded', 3],
    ['OrderCompleted', 4],
  ]);
  expect(orderEvents[0]?.metadata).toMatchObject({ workflowId: 'order-order-happy-1' });

  const stock = await database.store.readStream({ type: 'Inventory', id: 'SKU-A' });
  expect(stock.map((e) => e.type)).toEqual([
    'StockRestocked',
    'StockReserved',
    'ReservationCommitted',
  ]);
  const credit = await database.store.readStream({ type: 'CustomerCredit', id: 'cust-1' });
  expect(credit.map((e) => [e.type, e.data])).toEqual([
    ['CreditGranted', expect.objectContaining({ cents: 100_00 })],
    ['PaymentCharged', expect.objectContaining({ cents: 3_499, order_id: 'order-happy-1' })],
  ]);

  const order = await eventually(
    async () => {
      const row = await findOrder(database.db, 'order-happy-1');
      return row?.status === 'completed' ? row : undefined;
    },
    20_000,
    'read model to reach completed',
  );
  expect(order).toMatchObject({
    customerId: 'cust-1',
    totalAmountCents: 3_499,
    itemCount: 3,
    version: 4,
  });

  // A second start of the same order returns the existing saga instead of starting another;
  // one with other content is refused (api/orders-idempotency.int.test.ts covers the HTTP side).
  const again = await worker.orders.start({
    orderId: 'order-happy-1',
    customerId: 'cust-1',
    items: [
      { productId: 'SKU-A', quantity: 2, unitPriceCents: 1_250 },
      { productId: 'SKU-B', quantity: 1, unitPriceCents: 999 },
    ],
  });
  expect(again).toMatchObject({ started: false, runId: started.runId });
  await expect(
    worker.orders.start({
      orderId: 'order-happy-1',
      customerId: 'cust-1',
      items: [{ productId: 'SKU-A', quantity: 1, unitPriceCents: 1 }],
    }),
  ).rejects.toMatchObject({ code: 'ORDER_ALREADY_EXISTS' });
});

test("a client on the worker's connection starts the saga eagerly, as npm start does", async () => {
  await restockProduct(database.store, 'SKU-EAGER', 5);
  await grantCredit(database.store, 'cust-eager', 100_00);
  const eager = createOrderClient(
    new Client({ connection: worker.nativeConnection, namespace: 'default' }),
    {
      taskQueue: worker.taskQueue,
      paymentConfirmationThresholdCents: 100_000,
      paymentConfirmationTimeoutMs: 10_000,
      eagerStart: true,
    },
  );
  const order = {
    orderId: 'order-eager-1',
    customerId: 'cust-eager',
    items: [{ productId: 'SKU-EAGER', quantity: 1, unitPriceCents: 500 }],
  };
  await eager.start(order);
  await expect(eager.result('order-eager-1')).resolves.toMatchObject({ status: 'completed' });
  // The first workflow task came back in the start call's answer, not through matching.
  const history = await worker.client.workflow.getHandle('order-order-eager-1').fetchHistory();
  expect(history.events?.[0]?.workflowExecutionStartedEventAttributes?.eagerExecutionAccepted).toBe(
    true,
  );
  // A second start of the same order still answers with the running or closed saga.
  await expect(eager.start(order)).resolves.toMatchObject({ started: false });
});

test('a saga records the hot path marker; one an earlier client stamped takes the hot path with a deprecated marker', async () => {
  await restockProduct(database.store, 'SKU-PATH', 5);
  await grantCredit(database.store, 'cust-path', 100_00);
  const items = [{ productId: 'SKU-PATH', quantity: 1, unitPriceCents: 500 }];
  await worker.orders.start({ orderId: 'order-client', customerId: 'cust-path', items });
  await expect(worker.orders.result('order-client')).resolves.toMatchObject({
    status: 'completed',
  });
  // As `temporal workflow start --input` makes it; and as an earlier release's order client
  // started its sagas, with the path stamp in the memo (a client still running while its
  // release is replaced).
  const rawStart = (orderId: string, memo?: Record<string, unknown>) =>
    worker.client.workflow.start('orderSaga', {
      workflowId: `order-${orderId}`,
      taskQueue: worker.taskQueue,
      ...(memo ? { memo } : {}),
      args: [
        {
          orderId,
          customerId: 'cust-path',
          currency: 'USD',
          items,
          shippingAddress: null,
          paymentConfirmationThresholdCents: 100_000,
          paymentConfirmationTimeoutMs: 60_000,
          correlationId: `corr-${orderId}`,
        },
      ],
    });
  const raw = await rawStart('order-raw');
  const stamped = await rawStart('order-stamped', { orderSagaPath: HOT_PATH_PATCH });
  await expect(raw.result()).resolves.toMatchObject({ status: 'completed' });
  await expect(stamped.result()).resolves.toMatchObject({ status: 'completed' });

  const markersAndActivities = async (workflowId: string) => {
    const { events } = await worker.client.workflow.getHandle(workflowId).fetchHistory();
    return (events ?? []).flatMap((e) => {
      const marker = e.markerRecordedEventAttributes;
      if (marker?.markerName === 'core_patch') {
        const data = marker.details?.['patch-data']?.payloads?.[0]?.data;
        return [JSON.parse(Buffer.from(data!).toString('utf8')) as unknown];
      }
      const activity = e.activityTaskScheduledEventAttributes?.activityType?.name;
      return activity ? [activity] : [];
    });
  };
  // All took the hot path: one reservation activity for the order.
  const hotPath = ['createOrder', 'reserveInventoryItems', 'chargePayment', 'confirmOrder'];
  for (const workflowId of ['order-order-client', 'order-order-raw']) {
    expect(await markersAndActivities(workflowId)).toEqual([
      { id: HOT_PATH_PATCH, deprecated: false },
      ...hotPath,
    ]);
  }
  expect(await markersAndActivities('order-order-stamped')).toEqual([
    { id: HOT_PATH_PATCH, deprecated: true },
    ...hotPath,
  ]);
  // The core upserts TemporalChangeVersion beside the marker.
  const changeVersion = async (workflowId: string) =>
    (await worker.client.workflow.getHandle(workflowId).describe()).searchAttributes
      .TemporalChangeVersion;
  expect(await changeVersion('order-order-client')).toEqual([HOT_PATH_PATCH]);
  expect(await changeVersion('order-order-raw')).toEqual([HOT_PATH_PATCH]);
});
