// What an order was created with, read back from its stream (in-memory store): the creating
// append only, old schema versions upcast, and content compared as the client hashes it.
import { OrderDecider } from '../domain/order';
import { createInMemoryEventStore } from '../eventstore';
import { handleCommand } from './handle-command';
import { orderContentKey, readOrderCreation, sameOrderContent } from './order-creation';

const now = '2030-01-01T00:00:00.000Z';
const line = (productId: string, quantity = 1) => ({ productId, quantity, unitPriceCents: 250 });

test('the creation is the first append: lines added later are not part of it', async () => {
  const store = createInMemoryEventStore();
  await handleCommand(store, OrderDecider, 'o-1', {
    type: 'CreateOrder',
    orderId: 'o-1',
    customerId: 'c-1',
    currency: 'EUR',
    lines: [line('a', 2), line('b')],
    shippingAddress: { zip: '0150', city: 'Oslo' },
    now,
  });
  await handleCommand(store, OrderDecider, 'o-1', { type: 'AddItem', line: line('c'), now });

  const created = await readOrderCreation(store, 'o-1');
  expect(created?.content).toEqual({
    customerId: 'c-1',
    currency: 'EUR',
    items: [line('a', 2), line('b')],
    shippingAddress: { zip: '0150', city: 'Oslo' },
  });
  expect(await readOrderCreation(store, 'o-2')).toBeUndefined();
});

test('an order stored with schema v1 events (no shipping address, no tax) is read the same', async () => {
  const store = createInMemoryEventStore();
  await store.appendToStream({ type: 'Order', id: 'old' }, 'no_stream', [
    {
      type: 'OrderCreated',
      schemaVersion: 1,
      data: { order_id: 'old', customer_id: 'c', currency: 'USD', created_at: now },
    },
    {
      type: 'OrderItemAdded',
      schemaVersion: 1,
      data: { order_id: 'old', product_id: 'a', quantity: 3, unit_price: 250, created_at: now },
    },
  ]);
  const created = await readOrderCreation(store, 'old');
  expect(
    sameOrderContent(created!.content, { customerId: 'c', currency: 'USD', items: [line('a', 3)] }),
  ).toBe(true);
});

test('content equality: key order and a missing address do not count, anything else does', () => {
  const base = { customerId: 'c', currency: 'USD', items: [line('a')], shippingAddress: null };
  expect(sameOrderContent(base, { ...base, shippingAddress: undefined })).toBe(true);
  expect(
    orderContentKey({ ...base, shippingAddress: { a: 1, b: 2 } }) ===
      orderContentKey({ ...base, shippingAddress: { b: 2, a: 1 } }),
  ).toBe(true);
  for (const other of [
    { ...base, customerId: 'd' },
    { ...base, currency: 'EUR' },
    { ...base, items: [line('a', 2)] },
    { ...base, items: [line('a'), line('b')] },
    { ...base, shippingAddress: { city: 'Oslo' } },
  ]) {
    expect(sameOrderContent(base, other)).toBe(false);
  }
});
