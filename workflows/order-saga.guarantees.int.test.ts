// The saga keeps its guarantees under what an operator or a client can do (issue 11): a
// Temporal reset, a Temporal cancellation during confirm, early or wrong confirmations,
// overflowing lines, a compensation that can never succeed, retried and late requests. Each
// test ends with the invariant check over the whole database (stock, credit, no effect twice).
import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { grantCredit, restockProduct } from '../catalog/catalog';
import { createOrderClient, SagaFinishedError, type OrderClient } from '../client/order-client';
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
import type { OrderSagaResult, SagaState } from './types';

jest.setTimeout(90_000);
const { EventType } = temporal.api.enums.v1;

let database: TestDatabase;
let worker: TestWorker;
/** Orders above 1,000.00 wait up to a minute for their confirmation. */
let orders: OrderClient;
const run = randomUUID().slice(0, 8);
const id = (name: string) => `${name}-${run}`;

beforeAll(async () => {
  database = await createTestDatabase();
  worker = await startTestWorker(database.store);
  orders = createOrderClient(worker.client, {
    taskQueue: worker.taskQueue,
    paymentConfirmationThresholdCents: 100_000,
    paymentConfirmationTimeoutMs: 60_000,
    compensationMaxAttempts: 2,
  });
});

afterAll(async () => {
  await worker?.stop();
  await database?.close();
});

afterEach(async () => {
  const { violations } = await checkSagaInvariants(database.store);
  expect(violations).toEqual([]);
});

const types = async (type: string, streamId: string) =>
  (await database.store.readStream({ type, id: streamId })).map((e) => e.type);

function waitForState(orderId: string, check: (s: SagaState) => boolean, what: string) {
  return eventually(
    async () => {
      const state = await orders.state(orderId);
      return check(state) ? state : undefined;
    },
    30_000,
    what,
  );
}

async function refusalOf(promise: Promise<unknown>): Promise<DomainError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  return err as DomainError;
}

/** What `temporal workflow reset --type FirstWorkflowTask` does, through the client. */
async function resetToFirstWorkflowTask(handle: WorkflowHandle): Promise<string> {
  const { runId } = await handle.describe();
  const history = await handle.fetchHistory();
  const firstTask = (history.events ?? []).find(
    (e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
  );
  const response = await worker.client.workflowService.resetWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId: handle.workflowId, runId },
    reason: 'operator reset (test)',
    workflowTaskFinishEventId: firstTask!.eventId,
    requestId: randomUUID(),
  });
  return response.runId;
}

async function resultOfRun(workflowId: string, runId: string): Promise<OrderSagaResult> {
  return worker.client.workflow.getHandle(workflowId, runId).result() as Promise<OrderSagaResult>;
}

describe('reset', () => {
  test('a reset of a completed saga recognises its work and completes again, nothing twice', async () => {
    const orderId = id('reset-done');
    await restockProduct(database.store, id('P-reset-done'), 10);
    await grantCredit(database.store, id('c-reset-done'), 100_00);
    await orders.start({
      orderId,
      customerId: id('c-reset-done'),
      items: [{ productId: id('P-reset-done'), quantity: 2, unitPriceCents: 1_000 }],
    });
    await expect(orders.result(orderId)).resolves.toMatchObject({ status: 'completed' });
    const before = (await checkSagaInvariants(database.store)).ledger.events.length;

    const handle = worker.client.workflow.getHandle(`order-${orderId}`);
    const newRun = await resetToFirstWorkflowTask(handle);
    await expect(resultOfRun(handle.workflowId, newRun)).resolves.toEqual({
      orderId,
      status: 'completed',
      reason: null,
    });
    expect((await checkSagaInvariants(database.store)).ledger.events).toHaveLength(before);
    expect(await types('Order', orderId)).toEqual([
      'OrderCreated',
      'OrderItemAdded',
      'OrderCompleted',
    ]);
    expect(await types('Inventory', id('P-reset-done'))).toEqual([
      'StockRestocked',
      'StockReserved',
      'ReservationCommitted',
    ]);
    expect(await types('CustomerCredit', id('c-reset-done'))).toEqual([
      'CreditGranted',
      'PaymentCharged',
    ]);
  });

  test('a reset of a saga waiting mid-flight goes on from the work already done', async () => {
    const orderId = id('reset-pending');
    const product = id('P-reset-pending');
    await restockProduct(database.store, product, 5);
    await grantCredit(database.store, id('c-reset-pending'), 10_000_00);
    await orders.start({
      orderId,
      customerId: id('c-reset-pending'),
      items: [{ productId: product, quantity: 3, unitPriceCents: 50_000 }],
    });
    await waitForState(orderId, (s) => s.status === 'awaiting_payment_confirmation', 'awaiting');

    const handle = worker.client.workflow.getHandle(`order-${orderId}`);
    const newRun = await resetToFirstWorkflowTask(handle);
    // The new run re-runs create and reserve, recognises both, and asks again.
    await eventually(
      async () => {
        const state = await worker.client.workflow
          .getHandle(handle.workflowId, newRun)
          .query<SagaState>('sagaState');
        return state.status === 'awaiting_payment_confirmation' ? state : undefined;
      },
      30_000,
      'the new run awaiting confirmation',
    );
    expect(await types('Order', orderId)).toEqual(['OrderCreated', 'OrderItemAdded']);
    expect(await types('Inventory', product)).toEqual(['StockRestocked', 'StockReserved']);

    await orders.confirmPayment(orderId, 150_000);
    await expect(resultOfRun(handle.workflowId, newRun)).resolves.toMatchObject({
      status: 'completed',
    });
    expect(await types('Order', orderId)).toEqual([
      'OrderCreated',
      'OrderItemAdded',
      'OrderCompleted',
    ]);
    expect(await types('Inventory', product)).toEqual([
      'StockRestocked',
      'StockReserved',
      'ReservationCommitted',
    ]);
  });

  test('a reset saga that is cancelled undoes only its own work, once', async () => {
    const orderId = id('reset-cancel');
    const product = id('P-reset-cancel');
    await restockProduct(database.store, product, 5);
    await grantCredit(database.store, id('c-reset-cancel'), 10_000_00);
    await orders.start({
      orderId,
      customerId: id('c-reset-cancel'),
      items: [{ productId: product, quantity: 3, unitPriceCents: 50_000 }],
    });
    await waitForState(orderId, (s) => s.status === 'awaiting_payment_confirmation', 'awaiting');
    const handle = worker.client.workflow.getHandle(`order-${orderId}`);
    const newRun = await resetToFirstWorkflowTask(handle);
    await eventually(
      async () =>
        (
          await worker.client.workflow
            .getHandle(handle.workflowId, newRun)
            .query<SagaState>('sagaState')
        ).status === 'awaiting_payment_confirmation'
          ? true
          : undefined,
      30_000,
      'the new run awaiting confirmation',
    );
    await expect(orders.cancel(orderId, 'changed my mind')).resolves.toMatchObject({
      outcome: 'cancelled',
    });
    await expect(resultOfRun(handle.workflowId, newRun)).resolves.toMatchObject({
      status: 'cancelled',
      reason: 'cancelled: changed my mind',
    });
    expect(await types('Inventory', product)).toEqual([
      'StockRestocked',
      'StockReserved',
      'ReservationReleased',
    ]);
    expect(await types('Order', orderId)).toEqual([
      'OrderCreated',
      'OrderItemAdded',
      'OrderCancelled',
    ]);
  });

  test('compensation never cancels an order this saga did not create', async () => {
    // Another client created order X directly in the store; a saga for X is refused at
    // create and compensates: X stays as its creator left it.
    const orderId = id('not-mine');
    const product = id('P-not-mine');
    await restockProduct(database.store, product, 5);
    await grantCredit(database.store, id('c-not-mine'), 100_00);
    await database.store.appendToStream({ type: 'Order', id: orderId }, 'no_stream', [
      {
        type: 'OrderCreated',
        data: {
          order_id: orderId,
          customer_id: id('c-other'),
          currency: 'USD',
          shipping_address: null,
          created_at: new Date().toISOString(),
        },
      },
      {
        type: 'OrderItemAdded',
        data: {
          order_id: orderId,
          product_id: product,
          quantity: 1,
          unit_price: 100,
          tax_amount: 0,
          created_at: new Date().toISOString(),
        },
      },
      {
        type: 'OrderCompleted',
        data: {
          order_id: orderId,
          total_amount: 100,
          currency: 'USD',
          created_at: new Date().toISOString(),
        },
      },
    ]);
    await orders.start({
      orderId,
      customerId: id('c-not-mine'),
      items: [{ productId: product, quantity: 1, unitPriceCents: 100 }],
    });
    const result = await orders.result(orderId);
    expect(result).toMatchObject({ status: 'cancelled' });
    expect(result.reason).toMatch(/^ORDER_ALREADY_EXISTS/);
    // Not compensation_failed on ORDER_ALREADY_COMPLETED: the cancel was a no-op.
    expect(await types('Order', orderId)).toEqual([
      'OrderCreated',
      'OrderItemAdded',
      'OrderCompleted',
    ]);
    // The other order's items are not this test's stock: settle it for the invariant check.
    await database.pool.query(
      `DELETE FROM domain_events WHERE aggregate_type = 'Order' AND aggregate_id = $1`,
      [orderId],
    );
  });
});

test('a Temporal cancellation while confirm is retrying leaves no half-confirmed order', async () => {
  const orderId = id('cancel-confirm');
  const [a, b] = [id('P-confirm-a'), id('P-confirm-b')];
  await restockProduct(database.store, a, 5);
  await restockProduct(database.store, b, 5);
  await grantCredit(database.store, id('c-cancel-confirm'), 100_00);
  // Commits of B fail until the trigger is dropped: confirm commits A, then retries on B.
  const allowCommits = await refuseWrites(
    database.pool,
    'ReservationCommitted',
    b,
    'commit refused by the test',
  );
  try {
    await orders.start({
      orderId,
      customerId: id('c-cancel-confirm'),
      items: [
        { productId: a, quantity: 1, unitPriceCents: 1_000 },
        { productId: b, quantity: 1, unitPriceCents: 1_000 },
      ],
    });
    await eventually(
      async () =>
        (await types('Inventory', a)).includes('ReservationCommitted') ? true : undefined,
      30_000,
      'A committed',
    );
    const handle = worker.client.workflow.getHandle(`order-${orderId}`);
    await eventually(
      async () => {
        const pending = (await handle.describe()).raw.pendingActivities ?? [];
        return pending.some((p) => (p.attempt ?? 0) >= 2) ? true : undefined;
      },
      30_000,
      'confirm retrying',
    );
    await handle.cancel();
    // The cancellation does not interrupt confirm: the saga is still on it.
    await new Promise((r) => setTimeout(r, 500));
    expect(await orders.state(orderId)).toMatchObject({ step: 'confirm_order' });
  } finally {
    await allowCommits();
  }
  await expect(orders.result(orderId)).resolves.toMatchObject({ status: 'completed' });
  expect(await types('Inventory', a)).toEqual([
    'StockRestocked',
    'StockReserved',
    'ReservationCommitted',
  ]);
  expect(await types('Inventory', b)).toEqual([
    'StockRestocked',
    'StockReserved',
    'ReservationCommitted',
  ]);
  expect((await types('Order', orderId)).at(-1)).toBe('OrderCompleted');
  await recordHistoryIfAsked(worker.client, `order-${orderId}`, 'cancel-during-confirm');
});

describe('confirmation answers the question', () => {
  test('an early confirmation is refused and not latched; a wrong amount is refused', async () => {
    const orderId = id('early');
    const product = id('P-early');
    await restockProduct(database.store, product, 5);
    await grantCredit(database.store, id('c-early'), 10_000_00);
    const unblock = await refuseWrites(database.pool, 'StockReserved', product);
    try {
      await orders.start({
        orderId,
        customerId: id('c-early'),
        items: [{ productId: product, quantity: 1, unitPriceCents: 150_000 }],
      });
      await waitForState(orderId, (s) => s.step === 'reserve_inventory', 'reserving');
      // Before the saga asks: refused through the update, ignored through the old signal.
      const early = await refusalOf(orders.confirmPayment(orderId, 150_000));
      expect(early.code).toBe('PAYMENT_CONFIRMATION_NOT_AWAITED');
      await worker.client.workflow.getHandle(`order-${orderId}`).signal('confirmPayment');
    } finally {
      await unblock();
    }
    const waiting = await waitForState(
      orderId,
      (s) => s.status === 'awaiting_payment_confirmation',
      'awaiting confirmation',
    );
    // Neither early confirmation was kept: the saga waits, nothing is charged.
    expect(waiting.completedSteps).toEqual(['create_order', 'reserve_inventory']);
    expect(await types('CustomerCredit', id('c-early'))).toEqual(['CreditGranted']);

    const wrong = await refusalOf(orders.confirmPayment(orderId, 100_001));
    expect(wrong.code).toBe('PAYMENT_AMOUNT_MISMATCH');
    expect(wrong.message).toMatch(/totals 150000 cents/);
    await expect(orders.confirmPayment(orderId, 150_000)).resolves.toEqual({
      orderId,
      amountCents: 150_000,
      status: 'confirmed',
    });
    await expect(orders.result(orderId)).resolves.toMatchObject({ status: 'completed' });
    expect(await types('CustomerCredit', id('c-early'))).toEqual([
      'CreditGranted',
      'PaymentCharged',
    ]);
    await recordHistoryIfAsked(worker.client, `order-${orderId}`, 'confirm-update-after-refusals');
  });

  test('confirming an order that needs no confirmation is refused', async () => {
    const orderId = id('small-confirm');
    const product = id('P-small-confirm');
    await restockProduct(database.store, product, 5);
    await grantCredit(database.store, id('c-small-confirm'), 100_00);
    const unblock = await refuseWrites(database.pool, 'StockReserved', product);
    try {
      await orders.start({
        orderId,
        customerId: id('c-small-confirm'),
        items: [{ productId: product, quantity: 1, unitPriceCents: 500 }],
      });
      await waitForState(orderId, (s) => s.step === 'reserve_inventory', 'reserving');
      expect((await refusalOf(orders.confirmPayment(orderId, 500))).code).toBe(
        'PAYMENT_CONFIRMATION_NOT_AWAITED',
      );
    } finally {
      await unblock();
    }
    await expect(orders.result(orderId)).resolves.toMatchObject({ status: 'completed' });
  });
});

test('addItem refuses a line that takes the total past 2^53 cents; the saga goes on', async () => {
  const orderId = id('overflow');
  const product = id('P-overflow');
  await restockProduct(database.store, product, 5);
  await grantCredit(database.store, id('c-overflow'), 100_00);
  const unblock = await refuseWrites(database.pool, 'StockReserved', product);
  try {
    await orders.start({
      orderId,
      customerId: id('c-overflow'),
      items: [{ productId: product, quantity: 1, unitPriceCents: 2 ** 52 }],
    });
    await waitForState(orderId, (s) => s.step === 'reserve_inventory', 'reserving');
    const refused = await refusalOf(
      orders.addItem(orderId, { productId: product, quantity: 1, unitPriceCents: 2 ** 52 }),
    );
    expect(refused.code).toBe('INVALID_COMMAND');
    expect(refused.message).toMatch(/order total would exceed 9007199254740991 cents/);
  } finally {
    await unblock();
  }
  // The total was not touched: the saga asks for it, and unwinds on cancel (its stream folds).
  const waiting = await waitForState(
    orderId,
    (s) => s.status === 'awaiting_payment_confirmation',
    'awaiting confirmation',
  );
  expect(waiting.totalCents).toBe(2 ** 52);
  await expect(orders.cancel(orderId, 'too expensive')).resolves.toMatchObject({
    outcome: 'cancelled',
  });
  await expect(orders.result(orderId)).resolves.toMatchObject({ status: 'cancelled' });
  expect(await types('Order', orderId)).toEqual([
    'OrderCreated',
    'OrderItemAdded',
    'OrderCancelled',
  ]);
});

test('skipCompensation lets an operator give up a compensation; recorded, visible, then unwinds', async () => {
  const orderId = id('skip');
  const product = id('P-skip');
  await restockProduct(database.store, product, 5);
  await grantCredit(database.store, id('c-skip'), 100);
  const unblock = await refuseWrites(database.pool, 'ReservationReleased', product);
  try {
    // Declined (1.00 of credit for 20.00): the release is refused, twice, and the saga parks.
    await orders.start({
      orderId,
      customerId: id('c-skip'),
      items: [{ productId: product, quantity: 2, unitPriceCents: 1_000 }],
    });
    await waitForState(orderId, (s) => s.status === 'compensation_failed', 'compensation_failed');
    // Only the failed compensation can be skipped, and only with a reason.
    expect((await refusalOf(orders.skipCompensation(orderId, 'cancelOrder', 'no'))).code).toBe(
      'UNKNOWN_COMPENSATION',
    );
    expect(
      (await refusalOf(orders.skipCompensation(orderId, `releaseInventory:${product}`, ''))).code,
    ).toBe('INVALID_COMMAND');
    await expect(
      orders.skipCompensation(orderId, `releaseInventory:${product}`, 'stock written off by ops'),
    ).resolves.toMatchObject({ orderId, skipped: `releaseInventory:${product}` });
  } finally {
    await unblock();
  }
  const result = await orders.result(orderId);
  expect(result).toMatchObject({ status: 'cancelled' });
  expect(await orders.state(orderId)).toMatchObject({
    status: 'cancelled',
    compensations: [],
    skippedCompensations: [
      { name: `releaseInventory:${product}`, reason: 'stock written off by ops' },
    ],
  });
  const audit = await database.store.readStream({ type: 'OrderSaga', id: orderId });
  expect(audit.map((e) => [e.type, e.data])).toEqual([
    [
      'CompensationSkipped',
      expect.objectContaining({
        order_id: orderId,
        compensation: `releaseInventory:${product}`,
        reason: 'stock written off by ops',
        error: expect.stringMatching(/ReservationReleased refused by the test/),
      }),
    ],
  ]);
  // The skipped release was not run: the units stay reserved, as the operator decided.
  expect(await types('Inventory', product)).toEqual(['StockRestocked', 'StockReserved']);
  expect((await types('Order', orderId)).at(-1)).toBe('OrderCancelled');
  await recordHistoryIfAsked(worker.client, `order-${orderId}`, 'skip-compensation');
  // The saga has ended: nothing is left to skip.
  await expect(orders.skipCompensation(orderId, 'cancelOrder', 'again')).rejects.toBeInstanceOf(
    SagaFinishedError,
  );
});

describe('cancel answers whether it took effect', () => {
  test('"cancelled" while the saga can still unwind, "too late" once confirm runs', async () => {
    const orderId = id('cancel-answer');
    const [a, b] = [id('P-answer-a'), id('P-answer-b')];
    await restockProduct(database.store, a, 5);
    await restockProduct(database.store, b, 5);
    await grantCredit(database.store, id('c-answer'), 100_00);
    const unblock = await refuseWrites(database.pool, 'ReservationCommitted', b);
    try {
      await orders.start({
        orderId,
        customerId: id('c-answer'),
        items: [
          { productId: a, quantity: 1, unitPriceCents: 100 },
          { productId: b, quantity: 1, unitPriceCents: 100 },
        ],
      });
      await waitForState(orderId, (s) => s.step === 'confirm_order', 'confirming');
      await expect(orders.cancel(orderId, 'too slow')).resolves.toMatchObject({
        outcome: 'too late',
      });
    } finally {
      await unblock();
    }
    await expect(orders.result(orderId)).resolves.toMatchObject({ status: 'completed' });

    const other = id('cancel-answer-2');
    const unblock2 = await refuseWrites(database.pool, 'StockReserved', a);
    try {
      await orders.start({
        orderId: other,
        customerId: id('c-answer'),
        items: [{ productId: a, quantity: 1, unitPriceCents: 100 }],
      });
      await waitForState(other, (s) => s.step === 'reserve_inventory', 'reserving');
      await expect(orders.cancel(other, 'changed my mind')).resolves.toMatchObject({
        outcome: 'cancelled',
      });
    } finally {
      await unblock2();
    }
    await expect(orders.result(other)).resolves.toMatchObject({
      status: 'cancelled',
      reason: 'cancelled: changed my mind',
    });
  });

  test('the same update id adds a line once', async () => {
    const orderId = id('update-id');
    const product = id('P-update-id');
    await restockProduct(database.store, product, 10);
    await grantCredit(database.store, id('c-update-id'), 10_000_00);
    const line = { productId: product, quantity: 2, unitPriceCents: 100 };
    const unblock = await refuseWrites(database.pool, 'StockReserved', product);
    let first: Promise<unknown>;
    try {
      // A large order: once the line is in, the saga waits for its confirmation.
      await orders.start({
        orderId,
        customerId: id('c-update-id'),
        items: [{ productId: product, quantity: 1, unitPriceCents: 150_000 }],
      });
      await waitForState(orderId, (s) => s.step === 'reserve_inventory', 'reserving');
      // Accepted now, applied once the reservation step lets it in.
      first = orders.addItem(orderId, line, { updateId: 'retry-me' });
      // Unblock only once the saga has accepted it (its validator ran while pending).
      const handle = worker.client.workflow.getHandle(`order-${orderId}`);
      await eventually(
        async () =>
          ((await handle.fetchHistory()).events ?? []).some(
            (e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
          )
            ? true
            : undefined,
        10_000,
        'the update accepted',
      );
    } finally {
      await unblock();
    }
    const firstResult = await first;
    expect(firstResult).toMatchObject({ totalCents: 150_200 });
    // The retry (same update id) gets the first answer; no second line.
    await expect(orders.addItem(orderId, line, { updateId: 'retry-me' })).resolves.toEqual(
      firstResult,
    );
    await waitForState(orderId, (s) => s.status === 'awaiting_payment_confirmation', 'awaiting');
    await orders.confirmPayment(orderId, 150_200);
    await expect(orders.result(orderId)).resolves.toMatchObject({ status: 'completed' });
    expect(await types('Order', orderId)).toEqual([
      'OrderCreated',
      'OrderItemAdded',
      'OrderItemAdded',
      'OrderCompleted',
    ]);
    await recordHistoryIfAsked(worker.client, `order-${orderId}`, 'add-item-update-id');
  });
});
