// Every path of orderSaga against the real Temporal dev server and Postgres: the events each
// path writes, the saga's state and result, and the saga's invariants over the
// whole database at the end. With RECORD_HISTORIES=1 each path's history is (re)recorded as a
// replay fixture (test/fixtures/histories).
import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError, WorkflowUpdateStage } from '@temporalio/client';
import { grantCredit, restockProduct } from '../catalog/catalog';
import {
  createOrderClient,
  OrderNotFoundError,
  SagaFinishedError,
  type OrderClient,
} from '../client/order-client';
import type { OrderLine } from '../domain/order';
import { DomainError } from '../domain/shared';
import {
  refuseWrites,
  createTestDatabase,
  eventually,
  startTestWorker,
  type TestDatabase,
  type TestWorker,
} from '../test/harness';
import { recordHistoryIfAsked } from '../test/saga-histories';
import { checkSagaInvariants } from '../test/saga-invariants';
import { addItemUpdate } from './messages';
import { MAX_ITEMS_PER_ORDER } from './order-input';
import type { SagaState } from './types';

jest.setTimeout(60_000);

let database: TestDatabase;
let worker: TestWorker;
/** Large orders (above 1,000.00) wait at most 1.5 s for confirmPayment. */
let orders: OrderClient;
/** Local activities: the same saga with its event-store steps run inside the worker. */
let localOrders: OrderClient;
const run = randomUUID().slice(0, 8);
const id = (name: string) => `${name}-${run}`;

beforeAll(async () => {
  database = await createTestDatabase();
  worker = await startTestWorker(database.store);
  const options = {
    taskQueue: worker.taskQueue,
    paymentConfirmationThresholdCents: 100_000,
    paymentConfirmationTimeoutMs: 1_500,
    compensationMaxAttempts: 2,
  };
  orders = createOrderClient(worker.client, options);
  localOrders = createOrderClient(worker.client, { ...options, useLocalActivities: true });
});

afterAll(async () => {
  await worker?.stop();
  await database?.close();
});

async function stream(type: string, streamId: string) {
  return database.store.readStream({ type, id: streamId });
}
const types = async (type: string, streamId: string) =>
  (await stream(type, streamId)).map((e) => e.type);

async function stock(productId: string, quantity: number) {
  await restockProduct(database.store, productId, quantity);
}

function waitForState(orderId: string, check: (s: SagaState) => boolean, what: string) {
  return eventually(
    async () => {
      const state = await orders.state(orderId);
      return check(state) ? state : undefined;
    },
    20_000,
    what,
  );
}

async function refusal(promise: Promise<unknown>): Promise<{ name: string; code: string }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeDefined();
  return err as { name: string; code: string };
}

test('happy path: created, reserved, paid, committed and completed', async () => {
  const orderId = id('happy');
  await stock(id('P-happy-a'), 10);
  await stock(id('P-happy-b'), 10);
  await grantCredit(database.store, id('c-happy'), 100_00);

  await orders.start({
    orderId,
    customerId: id('c-happy'),
    items: [
      { productId: id('P-happy-a'), quantity: 2, unitPriceCents: 1_250 },
      { productId: id('P-happy-b'), quantity: 1, unitPriceCents: 999 },
      { productId: id('P-happy-a'), quantity: 1, unitPriceCents: 1_250 },
    ],
  });
  await expect(orders.result(orderId)).resolves.toEqual({
    orderId,
    status: 'completed',
    reason: null,
  });

  expect(await types('Order', orderId)).toEqual([
    'OrderCreated',
    'OrderItemAdded',
    'OrderItemAdded',
    'OrderItemAdded',
    'OrderCompleted',
  ]);
  const a = await stream('Inventory', id('P-happy-a'));
  expect(a.map((e) => [e.type, (e.data as { quantity: number }).quantity])).toEqual([
    ['StockRestocked', 10],
    ['StockReserved', 3],
    ['ReservationCommitted', 3],
  ]);
  expect((await stream('CustomerCredit', id('c-happy'))).map((e) => e.data)).toEqual([
    expect.objectContaining({ cents: 100_00 }),
    expect.objectContaining({ cents: 4_749, order_id: orderId }),
  ]);
  expect(await orders.state(orderId)).toMatchObject({
    status: 'completed',
    step: null,
    completedSteps: ['create_order', 'reserve_inventory', 'process_payment', 'confirm_order'],
    compensations: [],
    lastError: null,
    totalCents: 4_749,
  });
  await recordHistoryIfAsked(worker.client, `order-${orderId}`, 'happy-path');
});

test('insufficient stock on the second of three lines: the first line is released', async () => {
  const orderId = id('short');
  const [p1, p2, p3] = [id('P-short-1'), id('P-short-2'), id('P-short-3')];
  await stock(p1, 10);
  await stock(p2, 1);
  await stock(p3, 10);
  await grantCredit(database.store, id('c-short'), 100_00);

  await orders.start({
    orderId,
    customerId: id('c-short'),
    items: [
      { productId: p1, quantity: 2, unitPriceCents: 100 },
      { productId: p2, quantity: 5, unitPriceCents: 100 },
      { productId: p3, quantity: 1, unitPriceCents: 100 },
    ],
  });
  const result = await orders.result(orderId);
  expect(result.status).toBe('cancelled');
  expect(result.reason).toMatch(/^INSUFFICIENT_STOCK: Insufficient stock for/);

  expect(await types('Inventory', p1)).toEqual([
    'StockRestocked',
    'StockReserved',
    'ReservationReleased',
  ]);
  expect(await types('Inventory', p2)).toEqual(['StockRestocked']);
  expect(await types('Inventory', p3)).toEqual(['StockRestocked']);
  expect(await types('CustomerCredit', id('c-short'))).toEqual(['CreditGranted']);
  const orderEvents = await stream('Order', orderId);
  expect(orderEvents.map((e) => e.type)).toEqual([
    'OrderCreated',
    'OrderItemAdded',
    'OrderItemAdded',
    'OrderItemAdded',
    'OrderCancelled',
  ]);
  expect(orderEvents[4]?.data).toMatchObject({ reason: result.reason });
  expect(await orders.state(orderId)).toMatchObject({
    status: 'cancelled',
    completedSteps: ['create_order'],
    compensations: [],
    lastError: result.reason,
  });
  await recordHistoryIfAsked(worker.client, `order-${orderId}`, 'insufficient-stock');
});

test('payment declined: inventory released, order cancelled, credit untouched', async () => {
  const orderId = id('declined');
  await stock(id('P-declined'), 5);
  await grantCredit(database.store, id('c-declined'), 500);

  await orders.start({
    orderId,
    customerId: id('c-declined'),
    items: [{ productId: id('P-declined'), quantity: 2, unitPriceCents: 300 }],
  });
  const result = await orders.result(orderId);
  expect(result).toMatchObject({ status: 'cancelled' });
  expect(result.reason).toMatch(/^PAYMENT_DECLINED: /);
  expect(await types('Inventory', id('P-declined'))).toEqual([
    'StockRestocked',
    'StockReserved',
    'ReservationReleased',
  ]);
  expect(await types('CustomerCredit', id('c-declined'))).toEqual(['CreditGranted']);
  expect((await types('Order', orderId)).at(-1)).toBe('OrderCancelled');
  await recordHistoryIfAsked(worker.client, `order-${orderId}`, 'payment-declined');
});

test('a large order whose payment is not confirmed in time is cancelled', async () => {
  const orderId = id('timeout');
  await stock(id('P-timeout'), 5);
  await grantCredit(database.store, id('c-timeout'), 10_000_00);

  await orders.start({
    orderId,
    customerId: id('c-timeout'),
    items: [{ productId: id('P-timeout'), quantity: 1, unitPriceCents: 150_000 }],
  });
  await waitForState(
    orderId,
    (s) => s.status === 'awaiting_payment_confirmation',
    'awaiting confirmation',
  );
  const result = await orders.result(orderId);
  expect(result).toMatchObject({ status: 'cancelled' });
  expect(result.reason).toMatch(/^PAYMENT_CONFIRMATION_TIMEOUT: /);
  expect(await types('Inventory', id('P-timeout'))).toEqual([
    'StockRestocked',
    'StockReserved',
    'ReservationReleased',
  ]);
  expect(await types('CustomerCredit', id('c-timeout'))).toEqual(['CreditGranted']);
  await recordHistoryIfAsked(worker.client, `order-${orderId}`, 'confirmation-timeout');
});

test('a large order confirmed in time is paid and completed', async () => {
  const orderId = id('confirmed');
  await stock(id('P-confirmed'), 5);
  await grantCredit(database.store, id('c-confirmed'), 10_000_00);
  // A long timer here, so that only the signal can end the wait.
  const patient = createOrderClient(worker.client, {
    taskQueue: worker.taskQueue,
    paymentConfirmationThresholdCents: 100_000,
    paymentConfirmationTimeoutMs: 60_000,
  });

  await patient.start({
    orderId,
    customerId: id('c-confirmed'),
    items: [{ productId: id('P-confirmed'), quantity: 2, unitPriceCents: 150_000 }],
  });
  await waitForState(
    orderId,
    (s) => s.status === 'awaiting_payment_confirmation',
    'awaiting confirmation',
  );
  expect(await types('CustomerCredit', id('c-confirmed'))).toEqual(['CreditGranted']);
  const stack = await worker.client.workflow
    .getHandle(`order-${orderId}`)
    .query<string>('__stack_trace');
  // Where the saga waits, as the Temporal UI's Stack Trace tab shows it: a condition in the
  // payment step, source-mapped to the saga's code.
  expect(stack).toMatch(
    / at condition \(.*\n +at (?:OrderSaga\.)?processPayment \(.*order-saga\.workflow\.ts:\d+:\d+\)\n/,
  );
  await patient.confirmPayment(orderId, 300_000);
  await expect(patient.result(orderId)).resolves.toMatchObject({ status: 'completed' });
  expect((await stream('CustomerCredit', id('c-confirmed'))).map((e) => e.data)).toEqual([
    expect.objectContaining({ cents: 10_000_00 }),
    expect.objectContaining({ cents: 300_000, order_id: orderId }),
  ]);
  await recordHistoryIfAsked(worker.client, `order-${orderId}`, 'confirmation-in-time');
});

test('cancelOrder after the reservation releases the stock and cancels with the reason', async () => {
  const orderId = id('cancel');
  await stock(id('P-cancel'), 5);
  await grantCredit(database.store, id('c-cancel'), 10_000_00);

  await orders.start({
    orderId,
    customerId: id('c-cancel'),
    items: [{ productId: id('P-cancel'), quantity: 3, unitPriceCents: 150_000 }],
  });
  // Waiting for confirmation: the stock is reserved, the payment not yet taken.
  await waitForState(
    orderId,
    (s) => s.status === 'awaiting_payment_confirmation',
    'awaiting confirmation',
  );
  await orders.cancel(orderId, 'changed my mind');
  await expect(orders.result(orderId)).resolves.toEqual({
    orderId,
    status: 'cancelled',
    reason: 'cancelled: changed my mind',
  });
  expect(await types('Inventory', id('P-cancel'))).toEqual([
    'StockRestocked',
    'StockReserved',
    'ReservationReleased',
  ]);
  const cancelled = (await stream('Order', orderId)).at(-1);
  expect(cancelled).toMatchObject({
    type: 'OrderCancelled',
    data: expect.objectContaining({ reason: 'cancelled: changed my mind' }),
  });
  // A finished saga takes no more requests; an unknown order is said to be unknown.
  expect(await refusal(orders.cancel(orderId))).toBeInstanceOf(SagaFinishedError);
  expect(await refusal(orders.cancel(id('no-such-order')))).toBeInstanceOf(OrderNotFoundError);
  await recordHistoryIfAsked(worker.client, `order-${orderId}`, 'cancel-after-reservation');
});

test('addItem while pending: the new lines reserve their stock, are paid and committed', async () => {
  const orderId = id('add');
  const [slow, extra, shortProduct] = [id('P-add-slow'), id('P-add-extra'), id('P-add-short')];
  await stock(slow, 10);
  await stock(extra, 10);
  await stock(shortProduct, 1);
  await grantCredit(database.store, id('c-add'), 100_00);
  // Hold the saga in its reservation step for a moment, so that the updates sent now land
  // while the order is pending (a trigger in this test's own database).
  await database.pool.query(`
    CREATE FUNCTION slow_reservation() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.event_type = 'StockReserved' AND NEW.aggregate_id = '${slow}' THEN
        PERFORM pg_sleep(2);
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER slow_reservation BEFORE INSERT ON domain_events
      FOR EACH ROW EXECUTE FUNCTION slow_reservation();`);
  try {
    await orders.start({
      orderId,
      customerId: id('c-add'),
      items: [{ productId: slow, quantity: 1, unitPriceCents: 1_000 }],
    });
    // Accepted one after the other while the slow reservation runs, so they queue in this
    // order before the payment step.
    const handle = worker.client.workflow.getHandle(`order-${orderId}`);
    const accepted = async (l: OrderLine) =>
      handle.startUpdate(addItemUpdate, { args: [l], waitForStage: WorkflowUpdateStage.ACCEPTED });
    const first = await accepted(line(extra, 2));
    // A second line of the same product raises its reservation by the difference.
    const second = await accepted(line(extra, 3));
    // A line whose stock is short is refused; the saga goes on without it.
    const short = refusal(orders.addItem(orderId, line(shortProduct, 2)));
    // The workflow's validator refuses an invalid line before it reaches the history.
    const invalid = await refusal(accepted(line(extra, 0)).then((u) => u.result()));
    expect(invalid).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((invalid as unknown as { cause: { type: string } }).cause.type).toBe('INVALID_COMMAND');

    // The result names the line added, not every line.
    await expect(first.result()).resolves.toEqual({
      orderId,
      line: line(extra, 2),
      itemCount: 2,
      totalCents: 1_200,
    });
    await expect(second.result()).resolves.toMatchObject({ itemCount: 3, totalCents: 1_500 });
    const shortRefusal = await short;
    expect(shortRefusal).toBeInstanceOf(DomainError);
    expect(shortRefusal.code).toBe('INSUFFICIENT_STOCK');
  } finally {
    await database.pool.query('DROP TRIGGER slow_reservation ON domain_events');
  }

  await expect(orders.result(orderId)).resolves.toMatchObject({ status: 'completed' });
  const extraStock = await stream('Inventory', extra);
  expect(extraStock.map((e) => [e.type, (e.data as { quantity: number }).quantity])).toEqual([
    ['StockRestocked', 10],
    ['StockReserved', 2],
    ['StockReserved', 3],
    ['ReservationCommitted', 5],
  ]);
  expect(await types('Inventory', shortProduct)).toEqual(['StockRestocked']);
  expect(await types('Order', orderId)).toEqual([
    'OrderCreated',
    'OrderItemAdded',
    'OrderItemAdded',
    'OrderItemAdded',
    'OrderCompleted',
  ]);
  expect((await stream('CustomerCredit', id('c-add'))).at(-1)?.data).toMatchObject({
    cents: 1_500,
  });
  expect(await orders.state(orderId)).toMatchObject({ status: 'completed', totalCents: 1_500 });
  // The saga has finished: no more lines.
  expect(await refusal(orders.addItem(orderId, line(extra, 1)))).toBeInstanceOf(SagaFinishedError);
  expect(await refusal(orders.addItem(id('nope'), line(extra, 1)))).toBeInstanceOf(
    OrderNotFoundError,
  );
  await recordHistoryIfAsked(worker.client, `order-${orderId}`, 'add-item');

  function line(productId: string, quantity: number): OrderLine {
    return { productId, quantity, unitPriceCents: 100 };
  }
});

test('addItem is refused past MAX_ITEMS_PER_ORDER lines, by the validator and in turn', async () => {
  const product = id('P-cap');
  await stock(product, 1_000);
  await grantCredit(database.store, id('c-cap'), 100_00);
  const lines = (n: number): OrderLine[] =>
    Array.from({ length: n }, () => ({ productId: product, quantity: 1, unitPriceCents: 10 }));
  // Each reservation of this product takes 2 s, so the updates below land while pending.
  await database.pool.query(`
    CREATE FUNCTION slow_cap() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.event_type = 'StockReserved' AND NEW.aggregate_id = '${product}' THEN
        PERFORM pg_sleep(2);
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER slow_cap BEFORE INSERT ON domain_events
      FOR EACH ROW EXECUTE FUNCTION slow_cap();`);
  try {
    // Full at start: the validator refuses the line before it reaches the history.
    const full = id('cap-full');
    await orders.start({
      orderId: full,
      customerId: id('c-cap'),
      items: lines(MAX_ITEMS_PER_ORDER),
    });
    const refused = await refusal(orders.addItem(full, lines(1)[0]!));
    expect(refused).toBeInstanceOf(DomainError);
    expect(refused.code).toBe('TOO_MANY_ITEMS');

    // One short of full: two updates pass the validator together; the second is refused when
    // its turn comes, after the first took the last place.
    const almost = id('cap-almost');
    await orders.start({
      orderId: almost,
      customerId: id('c-cap'),
      items: lines(MAX_ITEMS_PER_ORDER - 1),
    });
    const handle = worker.client.workflow.getHandle(`order-${almost}`);
    const accepted = () =>
      handle.startUpdate(addItemUpdate, {
        args: [lines(1)[0]!],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
    const [first, second] = [await accepted(), await accepted()];
    await expect(first.result()).resolves.toMatchObject({
      itemCount: MAX_ITEMS_PER_ORDER,
      totalCents: MAX_ITEMS_PER_ORDER * 10,
    });
    const late = await refusal(second.result());
    expect(late).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((late as unknown as { cause: { type: string } }).cause.type).toBe('TOO_MANY_ITEMS');

    for (const orderId of [full, almost]) {
      await expect(orders.result(orderId)).resolves.toMatchObject({ status: 'completed' });
      const added = (await types('Order', orderId)).filter((t) => t === 'OrderItemAdded');
      expect(added).toHaveLength(MAX_ITEMS_PER_ORDER);
    }
  } finally {
    await database.pool.query('DROP TRIGGER slow_cap ON domain_events');
  }
});

test('addItem is refused once the payment has started', async () => {
  const orderId = id('add-late');
  await stock(id('P-add-late'), 5);
  await grantCredit(database.store, id('c-add-late'), 10_000_00);

  await orders.start({
    orderId,
    customerId: id('c-add-late'),
    items: [{ productId: id('P-add-late'), quantity: 1, unitPriceCents: 150_000 }],
  });
  await waitForState(
    orderId,
    (s) => s.status === 'awaiting_payment_confirmation',
    'awaiting confirmation',
  );
  const refused = await refusal(
    orders.addItem(orderId, { productId: id('P-add-late'), quantity: 1, unitPriceCents: 1 }),
  );
  expect(refused).toBeInstanceOf(DomainError);
  expect(refused.code).toBe('ORDER_NOT_PENDING');
  await orders.confirmPayment(orderId, 150_000);
  await expect(orders.result(orderId)).resolves.toMatchObject({ status: 'completed' });
  expect(await types('Order', orderId)).toEqual([
    'OrderCreated',
    'OrderItemAdded',
    'OrderCompleted',
  ]);
  await recordHistoryIfAsked(worker.client, `order-${orderId}`, 'add-item-refused-after-payment');
});

test('a compensation that keeps failing parks the saga until retryCompensation', async () => {
  const orderId = id('stuck');
  const product = id('P-stuck');
  await stock(product, 5);
  await grantCredit(database.store, id('c-stuck'), 100);
  // Releases of this product fail until the trigger is dropped.
  const allowReleases = await refuseWrites(
    database.pool,
    'ReservationReleased',
    product,
    'release refused by the test',
  );

  // Declined payment (credit 1.00 for 20.00): the saga compensates and the release fails.
  await orders.start({
    orderId,
    customerId: id('c-stuck'),
    items: [{ productId: product, quantity: 2, unitPriceCents: 1_000 }],
  });
  const stuck = await waitForState(
    orderId,
    (s) => s.status === 'compensation_failed',
    'compensation_failed',
  );
  expect(stuck.compensations).toEqual([`releaseInventory:${product}`, 'cancelOrder']);
  expect(stuck.lastError).toMatch(
    new RegExp(`^compensation releaseInventory:${product} failed: .*release refused by the test`),
  );
  // Visible in Temporal: the search attribute says so.
  const description = await orders.describe(orderId);
  expect(description.status.name).toBe('RUNNING');
  expect(description.typedSearchAttributes.getAll()).toContainEqual(
    expect.objectContaining({ value: 'compensation_failed' }),
  );
  expect(await types('Inventory', product)).toEqual(['StockRestocked', 'StockReserved']);

  // The operator fixes the cause and asks for a retry.
  await allowReleases();
  await orders.retryCompensation(orderId);
  const result = await orders.result(orderId);
  expect(result.status).toBe('cancelled');
  expect(result.reason).toMatch(/^PAYMENT_DECLINED: /);
  expect(await types('Inventory', product)).toEqual([
    'StockRestocked',
    'StockReserved',
    'ReservationReleased',
  ]);
  expect((await types('Order', orderId)).at(-1)).toBe('OrderCancelled');
  await recordHistoryIfAsked(worker.client, `order-${orderId}`, 'compensation-retry');
});

test('local activities: the same saga, its steps run inside the worker', async () => {
  const okId = id('local-ok');
  const failId = id('local-fail');
  await stock(id('P-local'), 3);
  await grantCredit(database.store, id('c-local'), 100_00);

  await localOrders.start({
    orderId: okId,
    customerId: id('c-local'),
    items: [{ productId: id('P-local'), quantity: 2, unitPriceCents: 500 }],
  });
  await expect(localOrders.result(okId)).resolves.toMatchObject({ status: 'completed' });
  await localOrders.start({
    orderId: failId,
    customerId: id('c-local'),
    items: [{ productId: id('P-local'), quantity: 2, unitPriceCents: 500 }],
  });
  const failed = await localOrders.result(failId);
  expect(failed.reason).toMatch(/^INSUFFICIENT_STOCK: /);
  expect(await types('Inventory', id('P-local'))).toEqual([
    'StockRestocked',
    'StockReserved',
    'ReservationCommitted',
  ]);
  expect(await types('Order', okId)).toEqual(['OrderCreated', 'OrderItemAdded', 'OrderCompleted']);
  expect(await types('Order', failId)).toEqual([
    'OrderCreated',
    'OrderItemAdded',
    'OrderCancelled',
  ]);
  await recordHistoryIfAsked(worker.client, `order-${okId}`, 'local-activities-happy');
  await recordHistoryIfAsked(worker.client, `order-${failId}`, 'local-activities-insufficient');
});

test('after every path: stock never below zero, nothing left reserved, credit whole', async () => {
  const { ledger, violations } = await checkSagaInvariants(database.store);
  expect(violations).toEqual([]);
  expect(ledger.orders.size).toBe(13);
  expect([...ledger.orders.values()].filter((o) => o.status === 'completed')).toHaveLength(7);
  for (const [productId, s] of ledger.stock) {
    expect({ productId, sum: s.available + s.reserved }).toEqual({ productId, sum: s.onHand });
    expect(s.reserved).toBe(0);
  }
});
