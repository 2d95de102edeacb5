// Inventory per product. available + reserved = on_hand at every moment; a reservation is
// all-or-nothing and keyed by order, so reserving, committing and releasing are idempotent.
// Reserve names the total an order should hold of the product (not an increment).
import { type Decider, type DomainEvent, assertNever, ensure } from '../shared';

export type InventoryEvent =
  | DomainEvent<'StockRestocked', { product_id: string; quantity: number; created_at: string }>
  | DomainEvent<
      'StockReserved',
      { product_id: string; order_id: string; quantity: number; created_at: string }
    >
  | DomainEvent<
      'ReservationCommitted',
      { product_id: string; order_id: string; quantity: number; created_at: string }
    >
  | DomainEvent<
      'ReservationReleased',
      { product_id: string; order_id: string; quantity: number; created_at: string }
    >;

export interface InventoryState {
  onHand: number;
  reserved: number;
  /** Units held per order id. */
  reservations: Record<string, number>;
}

export type InventoryCommand =
  | { type: 'Restock'; productId: string; quantity: number; now: string }
  /** `quantity`: the total the order should hold after the command. */
  | { type: 'Reserve'; productId: string; orderId: string; quantity: number; now: string }
  | { type: 'CommitReservation'; productId: string; orderId: string; now: string }
  | { type: 'ReleaseReservation'; productId: string; orderId: string; now: string };

export const available = (s: InventoryState): number => s.onHand - s.reserved;

function positiveQuantity(quantity: number): void {
  ensure(
    Number.isSafeInteger(quantity) && quantity > 0,
    'INVALID_COMMAND',
    'quantity must be a positive integer',
    { quantity },
  );
}

export const InventoryDecider: Decider<InventoryState, InventoryCommand, InventoryEvent> = {
  aggregateType: 'Inventory',
  initialState: () => ({ onHand: 0, reserved: 0, reservations: {} }),

  decide(command, state) {
    const base = { product_id: command.productId, created_at: command.now };
    switch (command.type) {
      case 'Restock':
        positiveQuantity(command.quantity);
        ensure(
          Number.isSafeInteger(state.onHand + command.quantity),
          'INVALID_COMMAND',
          'stock would exceed the largest safe integer',
        );
        return [{ type: 'StockRestocked', data: { ...base, quantity: command.quantity } }];
      case 'Reserve': {
        positiveQuantity(command.quantity);
        // The command names the total the order should hold, so a retry after its commit is
        // a no-op and a line added later for the same product reserves only the difference.
        const missing = command.quantity - (state.reservations[command.orderId] ?? 0);
        if (missing <= 0) return [];
        ensure(
          available(state) >= missing,
          'INSUFFICIENT_STOCK',
          `Insufficient stock for ${command.productId}: ${available(state)} available, ${missing} requested`,
          {
            productId: command.productId,
            available: available(state),
            requested: missing,
          },
        );
        return [
          {
            type: 'StockReserved',
            data: { ...base, order_id: command.orderId, quantity: missing },
          },
        ];
      }
      case 'CommitReservation':
      case 'ReleaseReservation': {
        const held = state.reservations[command.orderId];
        if (held === undefined) return [];
        const type =
          command.type === 'CommitReservation' ? 'ReservationCommitted' : 'ReservationReleased';
        return [{ type, data: { ...base, order_id: command.orderId, quantity: held } }];
      }
      default:
        return assertNever(command);
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'StockRestocked':
        return { ...state, onHand: state.onHand + event.data.quantity };
      case 'StockReserved':
        return {
          ...state,
          reserved: state.reserved + event.data.quantity,
          reservations: {
            ...state.reservations,
            [event.data.order_id]:
              (state.reservations[event.data.order_id] ?? 0) + event.data.quantity,
          },
        };
      case 'ReservationCommitted':
      case 'ReservationReleased': {
        const reservations = { ...state.reservations };
        delete reservations[event.data.order_id];
        const committed = event.type === 'ReservationCommitted' ? event.data.quantity : 0;
        return {
          onHand: state.onHand - committed,
          reserved: state.reserved - event.data.quantity,
          reservations,
        };
      }
      default:
        return assertNever(event);
    }
  },
};
