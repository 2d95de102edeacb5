// Many sagas at once on one hot product, then what the Temporal UI would list: 50 concurrent
// orders of 1 unit for a product with 20 in stock end with exactly 20 completed and 30
// cancelled for insufficient stock, stock never below zero; listing workflows by CustomerId
// and OrderStatus finds each saga in its state.
import { randomUUID } from 'node:crypto';
import { grantCredit, restockProduct } from '../catalog/catalog';
import {
  createTestDatabase,
  eventually,
  startTestWorker,
  type TestDatabase,
  type TestWorker,
} from '../test/harness';
import { checkSagaInvariants } from '../test/saga-invariants';

jest.setTimeout(120_000);

let database: TestDatabase;
let worker: TestWorker;
const run = randomUUID().slice(0, 8);
const product = `HOT-${run}`;
const customers = [0, 1, 2, 3, 4].map((i) => `hot-customer-${i}-${run}`);

beforeAll(async () => {
  database = await createTestDatabase();
  worker = await startTestWorker(database.store, { paymentConfirmationTimeoutMs: 60_000 });
});

afterAll(async () => {
  await worker?.stop();
  await database?.close();
});

test('50 concurrent orders for 20 units: 20 completed, 30 cancelled, never below zero', async () => {
  await restockProduct(database.store, product, 20);
  for (const customer of customers) await grantCredit(database.store, customer, 100_00);

  const orderIds = Array.from({ length: 50 }, (_, i) => `hot-${i}-${run}`);
  await Promise.all(
    orderIds.map((orderId, i) =>
      worker.orders.start({
        orderId,
        customerId: customers[i % customers.length]!,
        items: [{ productId: product, quantity: 1, unitPriceCents: 100 }],
      }),
    ),
  );
  const results = await Promise.all(orderIds.map((orderId) => worker.orders.result(orderId)));

  const completed = results.filter((r) => r.status === 'completed');
  const cancelled = results.filter((r) => r.status === 'cancelled');
  expect(completed).toHaveLength(20);
  expect(cancelled).toHaveLength(30);
  for (const r of cancelled) expect(r.reason).toMatch(/^INSUFFICIENT_STOCK: /);

  const { ledger, violations } = await checkSagaInvariants(database.store);
  expect(violations).toEqual([]);
  expect(ledger.stock.get(product)).toEqual({ onHand: 0, reserved: 0, available: 0, lowest: 0 });
  const spent = customers.reduce((sum, c) => sum + ledger.credit.get(c)!.spent, 0);
  expect(spent).toBe(20 * 100);
});

test('visibility: sagas are listed by CustomerId and OrderStatus', async () => {
  const count = async (query: string) => {
    let n = 0;
    for await (const _ of worker.client.workflow.list({ query })) n++;
    return n;
  };
  // The dev server's visibility store is eventually consistent: poll until it has caught up.
  const listed = (query: string, expected: number) =>
    eventually(
      async () => ((await count(query)) === expected ? true : undefined),
      20_000,
      `${expected} workflows for ${query}`,
    );

  const inState = (customer: string, status: string) =>
    `CustomerId = "${customer}" AND OrderStatus = "${status}"`;
  const everyone = `CustomerId IN (${customers.map((c) => `"${c}"`).join(', ')})`;
  await listed(`${everyone} AND OrderStatus = "completed"`, 20);
  await listed(`${everyone} AND OrderStatus = "cancelled"`, 30);
  await listed(
    `${inState(customers[0]!, 'completed')} OR ${inState(customers[0]!, 'cancelled')}`,
    10,
  );

  // A large order waits for its payment confirmation, and is listed so.
  const waiting = `big-${run}`;
  const buyer = `big-buyer-${run}`;
  await restockProduct(database.store, `BIG-${run}`, 1);
  await grantCredit(database.store, buyer, 10_000_00);
  await worker.orders.start({
    orderId: waiting,
    customerId: buyer,
    items: [{ productId: `BIG-${run}`, quantity: 1, unitPriceCents: 200_000 }],
  });
  await listed(inState(buyer, 'awaiting_payment_confirmation'), 1);
  await listed(`CustomerId = "${buyer}" AND OrderTotalCents > 100000`, 1);
  await worker.orders.cancel(waiting, 'no longer needed');
  await expect(worker.orders.result(waiting)).resolves.toMatchObject({ status: 'cancelled' });
  await listed(inState(buyer, 'cancelled'), 1);
  await listed(inState(buyer, 'awaiting_payment_confirmation'), 0);
});
