// The saga's activities on the in-memory event store, the way Temporal's samples test workflow
// logic against stub activities: the saga's steps and compensations in the SDK's activity
// context, with no database. What needs SQL (the gap-free read, transactions, retention) stays in
// order.activities.int.test.ts and the Postgres contract run.
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { loadAggregate } from '../application';
import { grantCredit, restockProduct } from '../catalog/catalog';
import { CreditDecider } from '../domain/credit';
import { InventoryDecider } from '../domain/inventory';
import { OrderDecider } from '../domain/order';
import { createInMemoryEventStore, type EventStore } from '../eventstore';
import { createOrderActivities, type OrderActivities } from './order.activities';

let store: EventStore;
let activities: OrderActivities;

beforeEach(() => {
  store = createInMemoryEventStore();
  activities = createOrderActivities({ store });
});

/** One activity attempt of one workflow run, as Temporal would run it. */
function attempt(workflowId: string, activityId: string, attemptNumber = 1) {
  return new MockActivityEnvironment({
    activityId,
    attempt: attemptNumber,
    workflowExecution: { workflowId, runId: `${workflowId}-run` },
  });
}

const types = async (type: string, id: string) =>
  (await store.readStream({ type, id })).map((e) => e.type);

const stockOf = async (productId: string) =>
  (await loadAggregate(store, InventoryDecider, productId)).state;

test('a declined payment compensates: reservations released, order cancelled, each once', async () => {
  const saga = 'order-declined';
  const orderId = 'o-declined';
  const customerId = 'c-poor';
  await restockProduct(store, 'MUG', 5);
  await restockProduct(store, 'CUP', 5);
  await grantCredit(store, customerId, 100);
  const correlationId = 'corr-1';

  await attempt(saga, '1').run(() =>
    activities.createOrder({
      orderId,
      customerId,
      currency: 'USD',
      items: [
        { productId: 'MUG', quantity: 2, unitPriceCents: 500 },
        { productId: 'CUP', quantity: 1, unitPriceCents: 300 },
      ],
      shippingAddress: null,
      correlationId,
    }),
  );
  await attempt(saga, '2').run(() =>
    activities.reserveInventory({ orderId, productId: 'MUG', quantity: 2, correlationId }),
  );
  await attempt(saga, '3').run(() =>
    activities.reserveInventory({ orderId, productId: 'CUP', quantity: 1, correlationId }),
  );
  expect(await stockOf('MUG')).toMatchObject({ onHand: 5, reserved: 2 });

  const declined: unknown = await attempt(saga, '4')
    .run(() => activities.chargePayment({ orderId, customerId, amountCents: 1300, correlationId }))
    .catch((e: unknown) => e);
  expect(declined).toBeInstanceOf(ApplicationFailure);
  expect(declined).toMatchObject({ type: 'PAYMENT_DECLINED', nonRetryable: true });

  // The compensations, each retried once after its commit (the worker died before reporting).
  const compensations: [string, () => Promise<void>][] = [
    ['5', () => activities.releaseInventory({ orderId, productId: 'CUP', correlationId })],
    ['6', () => activities.releaseInventory({ orderId, productId: 'MUG', correlationId })],
    ['7', () => activities.cancelOrder({ orderId, reason: 'payment declined', correlationId })],
  ];
  for (const [activityId, compensate] of compensations) {
    await attempt(saga, activityId).run(compensate);
    await attempt(saga, activityId, 2).run(compensate);
  }

  expect(await types('Inventory', 'MUG')).toEqual([
    'StockRestocked',
    'StockReserved',
    'ReservationReleased',
  ]);
  expect(await stockOf('MUG')).toMatchObject({ onHand: 5, reserved: 0 });
  expect(await stockOf('CUP')).toMatchObject({ onHand: 5, reserved: 0 });
  expect(await types('Order', orderId)).toEqual([
    'OrderCreated',
    'OrderItemAdded',
    'OrderItemAdded',
    'OrderCancelled',
  ]);
  expect(await types('CustomerCredit', customerId)).toEqual(['CreditGranted']);
});

test('two sagas racing for the last units: one reserves them, the other is refused', async () => {
  await restockProduct(store, 'LAST', 3);
  const reserve = (saga: string, a: OrderActivities) =>
    attempt(saga, '2')
      .run(() =>
        a.reserveInventory({ orderId: saga, productId: 'LAST', quantity: 2, correlationId: saga }),
      )
      .then(
        () => 'reserved',
        (err: unknown) => (err as ApplicationFailure).type,
      );
  // Two worker processes: each has its own activities (and aggregate cache) on the one store,
  // and both decide from 3 available units: the loser's append conflicts, it reloads and is
  // refused.
  const appends = jest.spyOn(store, 'appendToStream');
  const outcomes = await Promise.all([
    reserve('saga-a', activities),
    reserve('saga-b', createOrderActivities({ store })),
  ]);
  expect(outcomes.sort()).toEqual(['INSUFFICIENT_STOCK', 'reserved']);
  // Both appended: the refusal came from the reload after the conflict, not from a stale state.
  expect(appends).toHaveBeenCalledTimes(2);
  expect(await stockOf('LAST')).toMatchObject({ onHand: 3, reserved: 2 });
});

test('a refund retried after its commit restores the credit once', async () => {
  await grantCredit(store, 'c-1', 1000);
  const saga = 'order-refunded';
  const input = { orderId: 'o-refunded', customerId: 'c-1', correlationId: 'corr-2' };
  await attempt(saga, '4').run(() => activities.chargePayment({ ...input, amountCents: 700 }));
  for (const n of [1, 2]) await attempt(saga, '8', n).run(() => activities.refundPayment(input));
  expect(await types('CustomerCredit', 'c-1')).toEqual([
    'CreditGranted',
    'PaymentCharged',
    'PaymentRefunded',
  ]);
  expect((await loadAggregate(store, CreditDecider, 'c-1')).state).toMatchObject({
    availableCents: 1000,
    spentCents: 0,
  });
});

test('cancelling an order that was never created writes nothing', async () => {
  await attempt('order-never', '7').run(() =>
    activities.cancelOrder({ orderId: 'o-never', reason: 'no stock', correlationId: 'x' }),
  );
  expect(await store.readStream({ type: 'Order', id: 'o-never' })).toEqual([]);
  expect((await loadAggregate(store, OrderDecider, 'o-never')).version).toBe(0);
});
