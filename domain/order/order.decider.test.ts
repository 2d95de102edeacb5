import { deciderSpec } from '../../test/decider-spec';
import { OrderDecider, orderTotalCents } from './order.decider';
import type { OrderEvent } from './order.events';

const now = '2026-01-01T00:00:00.000Z';
const given = deciderSpec(OrderDecider);
const created: OrderEvent = {
  type: 'OrderCreated',
  data: {
    order_id: 'o1',
    customer_id: 'c1',
    currency: 'USD',
    shipping_address: null,
    created_at: now,
  },
};
const mug: OrderEvent = {
  type: 'OrderItemAdded',
  data: {
    order_id: 'o1',
    product_id: 'MUG',
    quantity: 2,
    unit_price: 1250,
    tax_amount: 0,
    created_at: now,
  },
};

describe('Order', () => {
  test('create emits OrderCreated and one OrderItemAdded per line', () => {
    given([])
      .when({
        type: 'CreateOrder',
        orderId: 'o1',
        customerId: 'c1',
        currency: 'USD',
        lines: [{ productId: 'MUG', quantity: 2, unitPriceCents: 1250 }],
        shippingAddress: null,
        now,
      })
      .then([created, mug]);
  });

  test('create is refused for an existing order', () => {
    given([created])
      .when({
        type: 'CreateOrder',
        orderId: 'o1',
        customerId: 'c1',
        currency: 'USD',
        lines: [],
        shippingAddress: null,
        now,
      })
      .thenRefused('ORDER_ALREADY_EXISTS');
  });

  test('items are added only while pending', () => {
    const line = { productId: 'CAP', quantity: 1, unitPriceCents: 100 };
    given([created])
      .when({ type: 'AddItem', line, now })
      .then([
        {
          type: 'OrderItemAdded',
          data: {
            order_id: 'o1',
            product_id: 'CAP',
            quantity: 1,
            unit_price: 100,
            tax_amount: 0,
            created_at: now,
          },
        },
      ]);
    given([
      created,
      mug,
      {
        type: 'OrderCompleted',
        data: { order_id: 'o1', total_amount: 2500, currency: 'USD', created_at: now },
      },
    ])
      .when({ type: 'AddItem', line, now })
      .thenRefused('ORDER_NOT_PENDING');
  });

  test('quantities must be positive integers and prices whole cents', () => {
    given([created])
      .when({ type: 'AddItem', line: { productId: 'X', quantity: 0, unitPriceCents: 1 }, now })
      .thenRefused('INVALID_COMMAND');
    given([created])
      .when({ type: 'AddItem', line: { productId: 'X', quantity: 1.5, unitPriceCents: 1 }, now })
      .thenRefused('INVALID_COMMAND');
    given([created])
      .when({ type: 'AddItem', line: { productId: 'X', quantity: 1, unitPriceCents: 9.99 }, now })
      .thenRefused('INVALID_COMMAND');
  });

  test('complete needs a pending, non-empty order and carries the total', () => {
    given([created]).when({ type: 'CompleteOrder', now }).thenRefused('ORDER_EMPTY');
    given([created, mug])
      .when({ type: 'CompleteOrder', now })
      .then([
        {
          type: 'OrderCompleted',
          data: { order_id: 'o1', total_amount: 2500, currency: 'USD', created_at: now },
        },
      ]);
  });

  test('cancel is refused once completed and is a no-op when already cancelled', () => {
    const completed: OrderEvent = {
      type: 'OrderCompleted',
      data: { order_id: 'o1', total_amount: 2500, currency: 'USD', created_at: now },
    };
    const cancelled: OrderEvent = {
      type: 'OrderCancelled',
      data: { order_id: 'o1', reason: 'x', created_at: now },
    };
    given([created, mug, completed])
      .when({ type: 'CancelOrder', reason: 'late', now })
      .thenRefused('ORDER_ALREADY_COMPLETED');
    given([created, cancelled]).when({ type: 'CancelOrder', reason: 'again', now }).then([]);
    given([]).when({ type: 'CancelOrder', reason: 'x', now }).thenRefused('ORDER_NOT_FOUND');
  });

  test('create needs a customer and an ISO currency', () => {
    const create = {
      type: 'CreateOrder' as const,
      orderId: 'o1',
      customerId: 'c1',
      currency: 'USD',
      lines: [],
      shippingAddress: null,
      now,
    };
    given([])
      .when({ ...create, customerId: '' })
      .thenRefused('INVALID_COMMAND');
    given([])
      .when({ ...create, currency: 'usd' })
      .thenRefused('INVALID_COMMAND');
    given([])
      .when({ ...create, lines: [{ productId: '', quantity: 1, unitPriceCents: 1 }] })
      .thenRefused('INVALID_COMMAND');
  });

  test('an order that does not exist takes no items and cannot complete', () => {
    given([])
      .when({ type: 'AddItem', line: { productId: 'X', quantity: 1, unitPriceCents: 1 }, now })
      .thenRefused('ORDER_NOT_FOUND');
    given([]).when({ type: 'CompleteOrder', now }).thenRefused('ORDER_NOT_FOUND');
  });

  test('a cancelled order takes no items and cannot complete', () => {
    const cancelled: OrderEvent = {
      type: 'OrderCancelled',
      data: { order_id: 'o1', reason: 'x', created_at: now },
    };
    given([created, mug, cancelled])
      .when({ type: 'AddItem', line: { productId: 'X', quantity: 1, unitPriceCents: 1 }, now })
      .thenRefused('ORDER_NOT_PENDING');
    given([created, mug, cancelled])
      .when({ type: 'CompleteOrder', now })
      .thenRefused('ORDER_NOT_PENDING');
  });

  test('totals are integer cents', () => {
    expect(
      orderTotalCents([
        { productId: 'a', quantity: 3, unitPriceCents: 333 },
        { productId: 'b', quantity: 1, unitPriceCents: 1 },
      ]),
    ).toBe(1000);
  });

  const refusalOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err as { code: string; message: string };
    }
    throw new Error('expected a refusal');
  };

  test('a negative quantity is refused as such, not as an overflow', () => {
    const state = OrderDecider.evolve(OrderDecider.initialState(), created);
    const err = refusalOf(() =>
      OrderDecider.decide(
        { type: 'AddItem', line: { productId: 'CAP', quantity: -3, unitPriceCents: 100 }, now },
        state,
      ),
    );
    expect(err).toMatchObject({
      code: 'INVALID_COMMAND',
      message: 'quantity must be a positive integer',
    });
  });

  test('a line that takes the total past 2^53 cents is refused; the stream still folds', () => {
    const big = 2 ** 52;
    const state = [created, { ...mug, data: { ...mug.data, quantity: 1, unit_price: big } }].reduce(
      (s, e) => OrderDecider.evolve(s, e as OrderEvent),
      OrderDecider.initialState(),
    );
    const err = refusalOf(() =>
      OrderDecider.decide(
        { type: 'AddItem', line: { productId: 'CAP', quantity: 1, unitPriceCents: big }, now },
        state,
      ),
    );
    expect(err).toMatchObject({
      code: 'INVALID_COMMAND',
      message: `the order total must not exceed ${Number.MAX_SAFE_INTEGER} cents`,
    });
    const create = refusalOf(() =>
      OrderDecider.decide(
        {
          type: 'CreateOrder',
          orderId: 'o2',
          customerId: 'c1',
          currency: 'USD',
          lines: [
            { productId: 'A', quantity: 1, unitPriceCents: big },
            { productId: 'B', quantity: 1, unitPriceCents: big },
          ],
          shippingAddress: null,
          now,
        },
        OrderDecider.initialState(),
      ),
    );
    expect(create.code).toBe('INVALID_COMMAND');
  });
});
