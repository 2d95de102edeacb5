// The saga's activities against the real Postgres, run in the SDK's activity context: an
// attempt retried after its commit (same workflow run and activity id) writes nothing twice,
// and business refusals are non-retryable, benign ApplicationFailures typed with the code.
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { grantCredit, restockProduct } from '../catalog/catalog';
import { createTestDatabase, type TestDatabase } from '../test/harness';
import { createOrderActivities, type OrderActivities } from './order.activities';

let database: TestDatabase;
let activities: OrderActivities;
const run = randomUUID().slice(0, 8);

beforeAll(async () => {
  database = await createTestDatabase();
  activities = createOrderActivities({ store: database.store });
});

afterAll(async () => {
  await database?.close();
});

/** One activity attempt of one workflow run, as Temporal would run it. */
function attempt(activityId: string, attemptNumber = 1) {
  return new MockActivityEnvironment({
    activityId,
    attempt: attemptNumber,
    workflowExecution: { workflowId: `order-${run}`, runId: `run-${run}` },
  });
}

async function failure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

const types = async (type: string, id: string) =>
  (await database.store.readStream({ type, id })).map((e) => e.type);

test('every step retried after its commit writes nothing twice', async () => {
  const orderId = `o-${run}`;
  const productId = `P-${run}`;
  const customerId = `c-${run}`;
  const correlationId = randomUUID();
  await restockProduct(database.store, productId, 5);
  await grantCredit(database.store, customerId, 10_000);

  const steps: [string, (a: OrderActivities) => Promise<void>][] = [
    [
      '1',
      (a) =>
        a.createOrder({
          orderId,
          customerId,
          currency: 'USD',
          items: [{ productId, quantity: 2, unitPriceCents: 300 }],
          shippingAddress: null,
          correlationId,
        }),
    ],
    ['2', (a) => a.reserveInventory({ orderId, productId, quantity: 2, correlationId })],
    [
      '3',
      (a) =>
        a.addItem({
          orderId,
          line: { productId, quantity: 1, unitPriceCents: 300 },
          correlationId,
        }),
    ],
    ['4', (a) => a.reserveInventory({ orderId, productId, quantity: 3, correlationId })],
    ['5', (a) => a.chargePayment({ orderId, customerId, amountCents: 900, correlationId })],
    ['6', (a) => a.confirmOrder({ orderId, productIds: [productId], correlationId })],
  ];
  for (const [activityId, step] of steps) {
    await attempt(activityId).run(() => step(activities));
    // The same activity again (its first attempt committed, then the worker died).
    await attempt(activityId, 2).run(() => step(activities));
  }

  expect(await types('Order', orderId)).toEqual([
    'OrderCreated',
    'OrderItemAdded',
    'OrderItemAdded',
    'OrderCompleted',
  ]);
  const stock = await database.store.readStream({ type: 'Inventory', id: productId });
  expect(stock.map((e) => [e.type, (e.data as { quantity: number }).quantity])).toEqual([
    ['StockRestocked', 5],
    ['StockReserved', 2],
    ['StockReserved', 1],
    ['ReservationCommitted', 3],
  ]);
  expect(await types('CustomerCredit', customerId)).toEqual(['CreditGranted', 'PaymentCharged']);
  // Each event carries where it came from.
  expect(stock[1]?.metadata).toMatchObject({
    correlationId,
    workflowId: `order-${run}`,
    runId: `run-${run}`,
    activityId: '2',
  });
});

test('refusals are non-retryable, benign and typed with the domain code', async () => {
  const productId = `P-short-${run}`;
  await restockProduct(database.store, productId, 1);
  const short = await failure(
    attempt('10').run(() =>
      activities.reserveInventory({
        orderId: `o-short-${run}`,
        productId,
        quantity: 2,
        correlationId: 'x',
      }),
    ),
  );
  expect(short).toMatchObject({
    type: 'INSUFFICIENT_STOCK',
    nonRetryable: true,
    category: 'BENIGN',
  });
  expect(short.details).toEqual([{ productId, available: 1, requested: 2 }]);

  const declined = await failure(
    attempt('11').run(() =>
      activities.chargePayment({
        orderId: `o-poor-${run}`,
        customerId: `nobody-${run}`,
        amountCents: 1,
        correlationId: 'x',
      }),
    ),
  );
  expect(declined).toMatchObject({ type: 'PAYMENT_DECLINED', nonRetryable: true });
});

test('compensations are no-ops when there is nothing to undo', async () => {
  const orderId = `o-never-${run}`;
  await attempt('20').run(() =>
    activities.cancelOrder({ orderId, reason: 'saga failed', correlationId: 'x' }),
  );
  await attempt('21').run(() =>
    activities.releaseInventory({ orderId, productId: `P-none-${run}`, correlationId: 'x' }),
  );
  await attempt('22').run(() =>
    activities.refundPayment({ orderId, customerId: `c-none-${run}`, correlationId: 'x' }),
  );
  expect(await types('Order', orderId)).toEqual([]);
  expect(await types('Inventory', `P-none-${run}`)).toEqual([]);
  expect(await types('CustomerCredit', `c-none-${run}`)).toEqual([]);
});

test('reserveInventoryItems: a retry after some products were reserved takes only the rest, and a rerun after they were committed takes nothing', async () => {
  const orderId = `o-batch-${run}`;
  const [p1, p2, p3] = ['A', 'B', 'C'].map((p) => `P-batch-${p}-${run}`) as [
    string,
    string,
    string,
  ];
  const correlationId = randomUUID();
  await restockProduct(database.store, p1, 5);
  await restockProduct(database.store, p2, 1);
  await restockProduct(database.store, p3, 5);
  const items = [
    { productId: p1, quantity: 2 },
    { productId: p2, quantity: 2 },
    { productId: p3, quantity: 1 },
  ];

  // First attempt: p1 reserved, then p2 is short: refused, p3 untouched.
  const refused = await failure(
    attempt('batch').run(() => activities.reserveInventoryItems({ orderId, items, correlationId })),
  );
  expect(refused.type).toBe('INSUFFICIENT_STOCK');
  // Stock arrives; the retry reserves p2 and p3, and leaves p1's reservation as it was.
  await restockProduct(database.store, p2, 5);
  await attempt('batch', 2).run(() =>
    activities.reserveInventoryItems({ orderId, items, correlationId }),
  );
  expect(await types('Inventory', p1)).toEqual(['StockRestocked', 'StockReserved']);
  expect(await types('Inventory', p2)).toEqual([
    'StockRestocked',
    'StockRestocked',
    'StockReserved',
  ]);
  expect(await types('Inventory', p3)).toEqual(['StockRestocked', 'StockReserved']);

  // The order is paid and confirmed (its reservations committed); a new run of the step (a
  // Temporal reset) reserves nothing.
  const customerId = `c-batch-${run}`;
  await grantCredit(database.store, customerId, 10_000);
  await attempt('create').run(() =>
    activities.createOrder({
      orderId,
      customerId,
      currency: 'USD',
      items: items.map((i) => ({ ...i, unitPriceCents: 100 })),
      shippingAddress: null,
      correlationId,
      step: 'create_order',
    }),
  );
  await attempt('charge').run(() =>
    activities.chargePayment({
      orderId,
      customerId,
      amountCents: 500,
      correlationId,
      step: 'charge',
    }),
  );
  await attempt('confirm').run(() =>
    activities.confirmOrder({ orderId, productIds: [p1, p2, p3], correlationId, step: 'confirm' }),
  );
  await attempt('batch-after-reset').run(() =>
    activities.reserveInventoryItems({ orderId, items, correlationId }),
  );
  for (const p of [p1, p3]) {
    expect(await types('Inventory', p)).toEqual([
      'StockRestocked',
      'StockReserved',
      'ReservationCommitted',
    ]);
  }
});

test('create_order under a workflow id that already created the order: the same order counts as created, another is refused before any effect', async () => {
  const orderId = `o-reused-${run}`;
  const workflowId = `order-${orderId}`;
  const inRun = (runId: string, activityId: string, attemptNumber = 1) =>
    new MockActivityEnvironment({
      activityId,
      attempt: attemptNumber,
      workflowExecution: { workflowId, runId },
    });
  const order = (productId: string) => ({
    orderId,
    customerId: `c-reused-${run}`,
    currency: 'USD',
    items: [{ productId, quantity: 1, unitPriceCents: 400 }],
    shippingAddress: null,
    correlationId: randomUUID(),
    step: 'create_order',
  });
  const created = order(`P-first-${run}`);
  await inRun('run-1', '1').run(() => activities.createOrder(created));
  const stored = await database.store.readStream({ type: 'Order', id: orderId });

  // A saga's retry after its commit, and a new run after a reset (a new correlation id does
  // not make it another order): created, nothing written.
  await inRun('run-1', '1', 2).run(() => activities.createOrder(created));
  await inRun('run-2', '1').run(() => activities.createOrder({ ...created, correlationId: 'x' }));
  expect(await database.store.readStream({ type: 'Order', id: orderId })).toEqual(stored);

  // The same workflow id with other items (Temporal forgot the first saga): refused.
  const refused = await failure(
    inRun('run-3', '1').run(() => activities.createOrder(order(`P-other-${run}`))),
  );
  expect(refused).toMatchObject({ type: 'ORDER_ALREADY_EXISTS', nonRetryable: true });
  expect(refused.message).toContain('exists with other content');
  // Its compensation does not cancel the order its create step found.
  const cancel = {
    orderId,
    reason: 'saga failed',
    correlationId: 'x',
    createdByStep: 'create_order',
  };
  await inRun('run-3', '2').run(() => activities.cancelOrder({ ...cancel, step: 'cancel_order' }));
  expect(await database.store.readStream({ type: 'Order', id: orderId })).toEqual(stored);
  expect(await types('OrderSaga', orderId)).toEqual(['OrderCreateRefused']);

  // The run that did create it still compensates it.
  await inRun('run-2', '2').run(() => activities.cancelOrder({ ...cancel, step: 'cancel_order' }));
  expect(await types('Order', orderId)).toEqual([
    'OrderCreated',
    'OrderItemAdded',
    'OrderCancelled',
  ]);
});

describe('cancelOrder with createdByStep (the saga cancels only an order it created)', () => {
  const env = (workflowId: string, runId: string, activityId: string) =>
    new MockActivityEnvironment({ activityId, workflowExecution: { workflowId, runId } });
  const create = (orderId: string, step?: string) => (a: OrderActivities) =>
    a.createOrder({
      orderId,
      customerId: `c-${run}`,
      currency: 'USD',
      items: [{ productId: `P-${run}`, quantity: 1, unitPriceCents: 100 }],
      shippingAddress: null,
      correlationId: 'x',
      ...(step ? { step } : {}),
    });
  const cancel = (orderId: string) => (a: OrderActivities) =>
    a.cancelOrder({
      orderId,
      reason: 'saga failed',
      correlationId: 'x',
      step: 'cancel_order',
      createdByStep: 'create_order',
    });

  test('an order created by a release before step-named ids (run-based id) is cancelled', async () => {
    // afbf374's createOrder passed no step: its event ids came from the run and activity id.
    const orderId = `o-old-${run}`;
    const wf = `order-${orderId}`;
    await env(wf, `run-old-${run}`, '1').run(create(orderId), activities);
    await env(wf, `run-old-${run}`, '9').run(cancel(orderId), activities);
    expect(await types('Order', orderId)).toEqual([
      'OrderCreated',
      'OrderItemAdded',
      'OrderCancelled',
    ]);
  });

  test('an order created with the step-named id is cancelled', async () => {
    const orderId = `o-new-${run}`;
    const wf = `order-${orderId}`;
    await env(wf, `run-new-${run}`, '1').run(create(orderId, 'create_order'), activities);
    // A new run (a Temporal reset) still recognises its step.
    await env(wf, `run-reset-${run}`, '4').run(cancel(orderId), activities);
    expect((await types('Order', orderId)).at(-1)).toBe('OrderCancelled');
  });

  test("another run's or another workflow's old-form order is left alone", async () => {
    const orderId = `o-other-${run}`;
    await env(`order-${orderId}`, `run-a-${run}`, '1').run(create(orderId), activities);
    await env(`order-${orderId}`, `run-b-${run}`, '9').run(cancel(orderId), activities);
    await env(`elsewhere-${run}`, `run-a-${run}`, '9').run(cancel(orderId), activities);
    expect(await types('Order', orderId)).toEqual(['OrderCreated', 'OrderItemAdded']);
  });

  test('an order never created is nothing to cancel', async () => {
    const orderId = `o-none-${run}`;
    await env(`order-${orderId}`, `run-${run}`, '9').run(cancel(orderId), activities);
    expect(await types('Order', orderId)).toEqual([]);
  });
});
