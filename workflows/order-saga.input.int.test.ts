// Hostile input through the Temporal client itself (issue 10): orderSaga validates its input
// in its first workflow task, so every malformed start closes within seconds as a failure
// typed INVALID_ORDER_INPUT naming the field, and writes no event. Malformed signals and
// update arguments leave a live saga working.
import { randomUUID } from 'node:crypto';
import {
  type SignalDefinition,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { grantCredit, restockProduct } from '../catalog/catalog';
import {
  createTestDatabase,
  eventually,
  startTestWorker,
  type TestDatabase,
  type TestWorker,
} from '../test/harness';
import { checkSagaInvariants } from '../test/saga-invariants';
import {
  addItemUpdate,
  cancelOrderSignal,
  cancelOrderUpdate,
  confirmPaymentUpdate,
  sagaStateQuery,
} from './messages';
import { CustomerIdKey, OrderStatusKey, OrderTotalCentsKey } from './search-attributes';

jest.setTimeout(90_000);

const { EventType } = temporal.api.enums.v1;

let database: TestDatabase;
let worker: TestWorker;
const run = randomUUID().slice(0, 8);

beforeAll(async () => {
  database = await createTestDatabase();
  worker = await startTestWorker(database.store);
});

afterAll(async () => {
  await worker?.stop();
  await database?.close();
});

const valid = (orderId: string) => ({
  orderId,
  customerId: 'c-input',
  currency: 'USD',
  items: [{ productId: 'P-input', quantity: 1, unitPriceCents: 100 }],
  shippingAddress: null,
  paymentConfirmationThresholdCents: 100_000,
  paymentConfirmationTimeoutMs: 60_000,
  correlationId: 'corr-input',
});

/** Starts orderSaga with raw arguments, as `temporal workflow start --input` would. */
async function startRaw(name: string, args: unknown[]) {
  const workflowId = `order-${name}-${run}`;
  return worker.client.workflow.start('orderSaga', {
    workflowId,
    taskQueue: worker.taskQueue,
    args,
  });
}

const line = { productId: 'P-input', quantity: 1, unitPriceCents: 100 };
const cases: { name: string; input: unknown; field: RegExp }[] = [
  {
    name: 'missing-items',
    input: (({ items: _items, ...rest }) => rest)(valid('missing-items')),
    field: /items/,
  },
  {
    name: 'negative-quantity',
    input: { ...valid('negative-quantity'), items: [{ ...line, quantity: -3 }] },
    field: /items\.0\.quantity: quantity must be a positive integer/,
  },
  { name: 'bare-string', input: 'an order, please', field: /expected object/ },
  { name: 'null', input: null, field: /expected object/ },
  {
    name: 'price-2-pow-60',
    input: { ...valid('price-2-pow-60'), items: [{ ...line, unitPriceCents: 2 ** 60 }] },
    field: /items\.0\.unitPriceCents/,
  },
  {
    name: 'items-as-object',
    input: { ...valid('items-as-object'), items: { 0: line } },
    field: /items: items must be a list of order lines/,
  },
  {
    name: 'quantity-string',
    input: { ...valid('quantity-string'), items: [{ ...line, quantity: '2' }] },
    field: /items\.0\.quantity/,
  },
  {
    name: 'total-overflow',
    input: {
      ...valid('total-overflow'),
      items: [
        { ...line, unitPriceCents: 2 ** 52 },
        { ...line, productId: 'P-other', unitPriceCents: 2 ** 52 },
      ],
    },
    field: /items: the order total must not exceed/,
  },
  { name: 'empty-items', input: { ...valid('empty-items'), items: [] }, field: /items/ },
  {
    name: 'no-customer',
    input: { ...valid('no-customer'), customerId: undefined },
    field: /customerId/,
  },
  {
    name: 'unknown-field',
    input: { ...valid('unknown-field'), discount: 100 },
    field: /discount/,
  },
  { name: 'no-argument', input: undefined, field: /expected object/ },
];

test.each(cases)(
  'input "$name" closes the saga at once with INVALID_ORDER_INPUT',
  async ({ name, input, field }) => {
    const started = Date.now();
    const handle = await startRaw(name, input === undefined ? [] : [input]);
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as {
      type?: string;
      nonRetryable?: boolean;
      message: string;
    };
    expect(cause).toMatchObject({ type: 'INVALID_ORDER_INPUT', nonRetryable: true });
    expect(cause.message).toMatch(field);
    expect(Date.now() - started).toBeLessThan(10_000);
    // Closed in its first workflow task: no activity was scheduled.
    const history = await handle.fetchHistory();
    const types = (history.events ?? []).map((e) => e.eventType);
    expect(types.filter((t) => t === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)).toHaveLength(1);
    expect(types).not.toContain(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
    expect(types).not.toContain(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
    expect(types.at(-1)).toBe(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED);
  },
);

test('no invalid start wrote an event', async () => {
  const { rows } = await database.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM domain_events',
  );
  expect(Number(rows[0]!.n)).toBe(0);
});

/**
 * A saga started with the Temporal client alone (no search attributes), its payment above the
 * threshold: it waits for a confirmation.
 */
async function sagaAwaitingConfirmation(name: string) {
  const orderId = `${name}-${run}`;
  await restockProduct(database.store, `P-${name}-${run}`, 10);
  await grantCredit(database.store, `c-${name}-${run}`, 10_000_00);
  const handle = await worker.client.workflow.start('orderSaga', {
    workflowId: `order-${orderId}`,
    taskQueue: worker.taskQueue,
    args: [
      {
        ...valid(orderId),
        customerId: `c-${name}-${run}`,
        items: [{ productId: `P-${name}-${run}`, quantity: 1, unitPriceCents: 150_000 }],
      },
    ],
  });
  await eventually(
    async () =>
      (await handle.query(sagaStateQuery)).status === 'awaiting_payment_confirmation'
        ? true
        : undefined,
    20_000,
    'awaiting confirmation',
  );
  return { orderId, handle };
}

test('malformed signals and updates leave a live saga working', async () => {
  const { orderId, handle } = await sagaAwaitingConfirmation('live');
  // Started without the search attributes the client sets: the saga sets them itself.
  const listed = (await handle.describe()).typedSearchAttributes;
  expect(listed.get(CustomerIdKey)).toBe(`c-live-${run}`);
  expect(listed.get(OrderTotalCentsKey)).toBe(150_000);
  expect(listed.get(OrderStatusKey)).toBe('awaiting_payment_confirmation');

  // Signals cannot be refused: malformed ones are ignored, the saga goes on.
  const badSignal = cancelOrderSignal as unknown as SignalDefinition<[unknown]>;
  await handle.signal(badSignal, { reason: { nested: true } });
  await handle.signal(badSignal, 42);
  await handle.signal(badSignal, ['a']);
  // Updates are refused before they reach the history.
  const badLine = { productId: '', quantity: 'two', unitPriceCents: -1 };
  await expect(
    handle.executeUpdate(addItemUpdate, { args: [badLine as never] }),
  ).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
  await expect(
    handle.executeUpdate(confirmPaymentUpdate, { args: ['all of it' as never] }),
  ).rejects.toBeInstanceOf(WorkflowUpdateFailedError);

  const state = await handle.query(sagaStateQuery);
  expect(state).toMatchObject({ status: 'awaiting_payment_confirmation', lastError: null });
  expect((await handle.describe()).status.name).toBe('RUNNING');

  // A cancel reason sent the way a CLI user types it is read, never "[object Object]".
  await handle.signal(badSignal, { reason: 'changed my mind' });
  await expect(handle.result()).resolves.toEqual({
    orderId,
    status: 'cancelled',
    reason: 'cancelled: changed my mind',
  });
  const history = await handle.fetchHistory();
  expect((history.events ?? []).map((e) => e.eventType)).not.toContain(
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
  );
  const { violations } = await checkSagaInvariants(database.store);
  expect(violations).toEqual([]);
});

test('a cancel with no reason, as the order client sends it ({}), cancels the order', async () => {
  const { orderId, handle } = await sagaAwaitingConfirmation('no-reason');
  // What POST /orders/:id/cancel with no body and `orders cancel` without --reason send.
  await expect(handle.executeUpdate(cancelOrderUpdate, { args: [{}] })).resolves.toMatchObject({
    outcome: 'cancelled',
  });
  await expect(handle.result()).resolves.toEqual({
    orderId,
    status: 'cancelled',
    reason: 'cancelled: requested by the customer',
  });
});
