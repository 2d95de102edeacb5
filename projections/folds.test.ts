// The projections' batch folds, without I/O: a batch folds to the same rows however it is cut,
// and events a projection cannot apply are named.
import type { RecordedEvent } from '../eventstore';
import { foldCredit } from './credit.projection';
import { foldInventory } from './inventory.projection';
import { foldOrders, type OrderRow } from './orders.projection';
import { ProjectionApplyError } from './projection';

let position = 0;
function event(streamId: string, version: number, type: string, data: object): RecordedEvent {
  position++;
  return {
    globalPosition: position,
    transactionId: '1',
    eventId: `e${position}`,
    streamType: 'X',
    streamId,
    version,
    type,
    schemaVersion: 1,
    data: { created_at: `2026-01-01T00:00:0${version}.000Z`, ...data },
    metadata: {},
    createdAt: new Date(0),
  };
}

const created = (id: string) =>
  event(id, 1, 'OrderCreated', { customer_id: 'c', currency: 'USD', shipping_address: null });
const item = (id: string, v: number, quantity: number, unit_price: number) =>
  event(id, v, 'OrderItemAdded', { product_id: 'p', quantity, unit_price, tax_amount: 0 });

describe('foldOrders', () => {
  const history = [
    created('a'),
    item('a', 2, 2, 150),
    created('b'),
    item('a', 3, 1, 1000),
    item('b', 2, 5, 10),
    event('a', 4, 'OrderCompleted', { total_amount: 1300, currency: 'USD' }),
    event('b', 3, 'OrderCancelled', { reason: 'no stock' }),
  ];

  test('one batch: each order written once, items and stats moves', () => {
    const fold = foldOrders(new Map(), history);
    const a = fold.orders.find((o) => o.id === 'a')!;
    expect(a).toMatchObject({
      status: 'completed',
      total_amount: 1300,
      item_count: 3,
      version: 4,
      completed_at: '2026-01-01T00:00:04.000Z',
    });
    expect(fold.orders.find((o) => o.id === 'b')).toMatchObject({
      status: 'cancelled',
      cancellation_reason: 'no stock',
      total_amount: 50,
    });
    expect(fold.items.map((i) => [i.order_id, i.line_no, i.total_price])).toEqual([
      ['a', 2, 300],
      ['a', 3, 1000],
      ['b', 2, 50],
    ]);
    expect(Object.fromEntries(fold.stats)).toEqual({
      pending: { count: 0, revenue: 0 },
      completed: { count: 1, revenue: 1300 },
      cancelled: { count: 1, revenue: 50 },
    });
  });

  test('any cut into batches ends in the same rows', () => {
    const whole = foldOrders(new Map(), history);
    for (let cut = 1; cut < history.length; cut++) {
      const first = foldOrders(new Map(), history.slice(0, cut));
      const before = new Map<string, OrderRow>(first.orders.map((o) => [o.id, o]));
      const second = foldOrders(before, history.slice(cut));
      const merged = new Map(before);
      for (const o of second.orders) merged.set(o.id, o);
      expect([...merged.values()].sort((x, y) => x.id.localeCompare(y.id))).toEqual(
        whole.orders.sort((x, y) => x.id.localeCompare(y.id)),
      );
      expect([...first.items, ...second.items]).toEqual(whole.items);
      const stats = new Map<string, { count: number; revenue: number }>();
      for (const [s, d] of [...first.stats, ...second.stats]) {
        const cur = stats.get(s) ?? { count: 0, revenue: 0 };
        stats.set(s, { count: cur.count + d.count, revenue: cur.revenue + d.revenue });
      }
      expect(Object.fromEntries(stats)).toEqual(Object.fromEntries(whole.stats));
    }
  });

  test('an item for an order the read model lacks names the event', () => {
    const bad = item('ghost', 2, 1, 1);
    expect(() => foldOrders(new Map(), [bad])).toThrow(ProjectionApplyError);
    try {
      foldOrders(new Map(), [bad]);
    } catch (err) {
      expect((err as ProjectionApplyError).event).toBe(bad);
    }
  });

  test('a second OrderCreated for the same order is refused', () => {
    expect(() => foldOrders(new Map(), [created('a'), created('a')])).toThrow(/already exists/);
  });

  test('amounts past the safe integer range are refused, never rounded', () => {
    expect(() =>
      foldOrders(new Map(), [created('a'), item('a', 2, 3, Number.MAX_SAFE_INTEGER)]),
    ).toThrow(ProjectionApplyError);
  });
});

describe('foldInventory and foldCredit', () => {
  test('sum a batch into one delta per stream, with its last version', () => {
    const rows = foldInventory([
      event('p1', 1, 'StockRestocked', { quantity: 10 }),
      event('p1', 2, 'StockReserved', { quantity: 3 }),
      event('p2', 1, 'StockRestocked', { quantity: 1 }),
      event('p1', 3, 'ReservationCommitted', { quantity: 2 }),
      event('p1', 4, 'ReservationReleased', { quantity: 1 }),
    ]);
    expect(rows).toEqual([
      {
        productId: 'p1',
        onHand: 8,
        reserved: 0,
        version: 4,
        updatedAt: '2026-01-01T00:00:04.000Z',
      },
      {
        productId: 'p2',
        onHand: 1,
        reserved: 0,
        version: 1,
        updatedAt: '2026-01-01T00:00:01.000Z',
      },
    ]);
    const credit = foldCredit([
      event('c', 1, 'CreditGranted', { cents: 500 }),
      event('c', 2, 'PaymentCharged', { cents: 200 }),
      event('c', 3, 'PaymentRefunded', { cents: 50 }),
    ]);
    expect(credit).toEqual([
      {
        customerId: 'c',
        available: 350,
        spent: 150,
        version: 3,
        updatedAt: '2026-01-01T00:00:03.000Z',
      },
    ]);
  });

  test('a quantity that is not an integer stops the projection', () => {
    expect(() => foldInventory([event('p', 1, 'StockRestocked', { quantity: 'ten' })])).toThrow(
      ProjectionApplyError,
    );
    expect(() => foldCredit([event('c', 1, 'CreditGranted', { cents: 1.5 })])).toThrow(
      ProjectionApplyError,
    );
  });
});
