import { fold } from '../shared';
import { deciderSpec } from '../../test/decider-spec';
import { available, InventoryDecider, type InventoryEvent } from './inventory.decider';

const now = '2026-01-01T00:00:00.000Z';
const given = deciderSpec(InventoryDecider);
const restocked: InventoryEvent = {
  type: 'StockRestocked',
  data: { product_id: 'P', quantity: 5, created_at: now },
};
const reserved: InventoryEvent = {
  type: 'StockReserved',
  data: { product_id: 'P', order_id: 'o1', quantity: 3, created_at: now },
};

describe('Inventory', () => {
  test('a reservation is refused, not partial, when too few units are available', () => {
    given([restocked])
      .when({ type: 'Reserve', productId: 'P', orderId: 'o2', quantity: 6, now })
      .thenRefused('INSUFFICIENT_STOCK');
    given([restocked, reserved])
      .when({ type: 'Reserve', productId: 'P', orderId: 'o2', quantity: 3, now })
      .thenRefused('INSUFFICIENT_STOCK');
  });

  test('reserving again for the same order is a no-op', () => {
    given([restocked, reserved])
      .when({ type: 'Reserve', productId: 'P', orderId: 'o1', quantity: 3, now })
      .then([]);
  });

  test("raising an order's reservation reserves only the difference, all or nothing", () => {
    given([restocked, reserved])
      .when({ type: 'Reserve', productId: 'P', orderId: 'o1', quantity: 5, now })
      .then([
        {
          type: 'StockReserved',
          data: { product_id: 'P', order_id: 'o1', quantity: 2, created_at: now },
        },
      ]);
    given([restocked, reserved])
      .when({ type: 'Reserve', productId: 'P', orderId: 'o1', quantity: 6, now })
      .thenRefused('INSUFFICIENT_STOCK');
    const raised: InventoryEvent = {
      type: 'StockReserved',
      data: { product_id: 'P', order_id: 'o1', quantity: 2, created_at: now },
    };
    // Release frees everything the order holds, from both reservations.
    given([restocked, reserved, raised])
      .when({ type: 'ReleaseReservation', productId: 'P', orderId: 'o1', now })
      .then([
        {
          type: 'ReservationReleased',
          data: { product_id: 'P', order_id: 'o1', quantity: 5, created_at: now },
        },
      ]);
  });

  test('commit and release move what the order holds, and nothing when it holds nothing', () => {
    given([restocked, reserved])
      .when({ type: 'CommitReservation', productId: 'P', orderId: 'o1', now })
      .then([
        {
          type: 'ReservationCommitted',
          data: { product_id: 'P', order_id: 'o1', quantity: 3, created_at: now },
        },
      ]);
    given([restocked, reserved])
      .when({ type: 'ReleaseReservation', productId: 'P', orderId: 'o1', now })
      .then([
        {
          type: 'ReservationReleased',
          data: { product_id: 'P', order_id: 'o1', quantity: 3, created_at: now },
        },
      ]);
    given([restocked])
      .when({ type: 'ReleaseReservation', productId: 'P', orderId: 'o1', now })
      .then([]);
  });

  test('available + reserved = on_hand through every move', () => {
    const committed: InventoryEvent = {
      type: 'ReservationCommitted',
      data: { product_id: 'P', order_id: 'o1', quantity: 3, created_at: now },
    };
    const states = [[restocked], [restocked, reserved], [restocked, reserved, committed]].map(
      (events) => fold(InventoryDecider, events),
    );
    for (const s of states) expect(available(s) + s.reserved).toBe(s.onHand);
    expect(states.map((s) => [s.onHand, s.reserved, available(s)])).toEqual([
      [5, 0, 5],
      [5, 3, 2],
      [2, 0, 2],
    ]);
  });

  test('a reservation needs a positive integer quantity', () => {
    for (const quantity of [0, -2, 1.5]) {
      given([restocked])
        .when({ type: 'Reserve', productId: 'P', orderId: 'o1', quantity, now })
        .thenRefused('INVALID_COMMAND');
    }
  });

  test('restock needs a positive integer quantity', () => {
    given([])
      .when({ type: 'Restock', productId: 'P', quantity: -1, now })
      .thenRefused('INVALID_COMMAND');
  });
});
