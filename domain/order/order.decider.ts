// The Order aggregate, with its rules: items only while pending, complete only when
// pending and non-empty, cancel unless completed.
import {
  type Decider,
  DomainError,
  addCents,
  assertNever,
  ensure,
  isCents,
  multiply,
} from '../shared';
import type { OrderEvent } from './order.events';

export interface OrderLine {
  productId: string;
  quantity: number;
  unitPriceCents: number;
}

export type OrderStatus = 'pending' | 'completed' | 'cancelled';

export type OrderState =
  | { status: 'none' }
  | {
      status: OrderStatus;
      orderId: string;
      customerId: string;
      currency: string;
      lines: OrderLine[];
      totalCents: number;
    };

export type OrderCommand =
  | {
      type: 'CreateOrder';
      orderId: string;
      customerId: string;
      currency: string;
      lines: OrderLine[];
      shippingAddress: Record<string, unknown> | null;
      now: string;
    }
  | { type: 'AddItem'; line: OrderLine; now: string }
  | { type: 'CompleteOrder'; now: string }
  | { type: 'CancelOrder'; reason: string; now: string };

export function validateLine(line: OrderLine): void {
  ensure(
    typeof line.productId === 'string' && line.productId.length > 0,
    'INVALID_COMMAND',
    'productId must not be empty',
  );
  ensure(
    Number.isSafeInteger(line.quantity) && line.quantity > 0,
    'INVALID_COMMAND',
    'quantity must be a positive integer',
    { quantity: line.quantity },
  );
  ensure(
    isCents(line.unitPriceCents),
    'INVALID_COMMAND',
    'unitPriceCents must be a non-negative integer',
    { unitPriceCents: line.unitPriceCents },
  );
  multiply(line.unitPriceCents, line.quantity);
}

/** The order's total must stay an exact integer of cents (below 2^53). */
function ensureTotalFits(lines: readonly OrderLine[]): void {
  let total = 0;
  for (const l of lines) total += l.unitPriceCents * l.quantity;
  ensure(
    Number.isSafeInteger(total),
    'INVALID_COMMAND',
    `the order total must not exceed ${Number.MAX_SAFE_INTEGER} cents`,
    { lines: lines.length },
  );
}

function itemAdded(orderId: string, line: OrderLine, now: string): OrderEvent {
  validateLine(line);
  return {
    type: 'OrderItemAdded',
    data: {
      order_id: orderId,
      product_id: line.productId,
      quantity: line.quantity,
      unit_price: line.unitPriceCents,
      tax_amount: 0,
      created_at: now,
    },
  };
}

function existing(state: OrderState) {
  if (state.status === 'none') throw new DomainError('ORDER_NOT_FOUND', 'Order does not exist');
  return state;
}

export const OrderDecider: Decider<OrderState, OrderCommand, OrderEvent> = {
  aggregateType: 'Order',
  initialState: () => ({ status: 'none' }),

  decide(command, state) {
    switch (command.type) {
      case 'CreateOrder': {
        ensure(state.status === 'none', 'ORDER_ALREADY_EXISTS', 'Order already exists', {
          orderId: command.orderId,
        });
        ensure(command.customerId.length > 0, 'INVALID_COMMAND', 'customerId must not be empty');
        ensure(/^[A-Z]{3}$/.test(command.currency), 'INVALID_COMMAND', 'currency must be ISO 4217');
        const created: OrderEvent = {
          type: 'OrderCreated',
          data: {
            order_id: command.orderId,
            customer_id: command.customerId,
            currency: command.currency,
            shipping_address: command.shippingAddress,
            created_at: command.now,
          },
        };
        const added = command.lines.map((l) => itemAdded(command.orderId, l, command.now));
        ensureTotalFits(command.lines);
        return [created, ...added];
      }
      case 'AddItem': {
        const order = existing(state);
        ensure(
          order.status === 'pending',
          'ORDER_NOT_PENDING',
          'Cannot add items to non-pending order',
          {
            status: order.status,
          },
        );
        const added = itemAdded(order.orderId, command.line, command.now);
        ensureTotalFits([...order.lines, command.line]);
        return [added];
      }
      case 'CompleteOrder': {
        const order = existing(state);
        ensure(order.status === 'pending', 'ORDER_NOT_PENDING', 'Order is not in pending status', {
          status: order.status,
        });
        ensure(order.lines.length > 0, 'ORDER_EMPTY', 'Cannot complete empty order');
        return [
          {
            type: 'OrderCompleted',
            data: {
              order_id: order.orderId,
              total_amount: order.totalCents,
              currency: order.currency,
              created_at: command.now,
            },
          },
        ];
      }
      case 'CancelOrder': {
        const order = existing(state);
        ensure(
          order.status !== 'completed',
          'ORDER_ALREADY_COMPLETED',
          'Cannot cancel completed order',
        );
        // Cancelling twice is a no-op so that a retried compensation cannot fail on it.
        if (order.status === 'cancelled') return [];
        return [
          {
            type: 'OrderCancelled',
            data: { order_id: order.orderId, reason: command.reason, created_at: command.now },
          },
        ];
      }
      default:
        return assertNever(command);
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'OrderCreated':
        return {
          status: 'pending',
          orderId: event.data.order_id,
          customerId: event.data.customer_id,
          currency: event.data.currency,
          lines: [],
          totalCents: 0,
        };
      case 'OrderItemAdded': {
        const order = existing(state);
        const line = {
          productId: event.data.product_id,
          quantity: event.data.quantity,
          unitPriceCents: event.data.unit_price,
        };
        return {
          ...order,
          lines: [...order.lines, line],
          totalCents: addCents(order.totalCents, multiply(line.unitPriceCents, line.quantity)),
        };
      }
      case 'OrderCompleted':
        return { ...existing(state), status: 'completed' };
      case 'OrderCancelled':
        return { ...existing(state), status: 'cancelled' };
      default:
        return assertNever(event);
    }
  },
};

export function orderTotalCents(lines: readonly OrderLine[]): number {
  return lines.reduce((sum, l) => addCents(sum, multiply(l.unitPriceCents, l.quantity)), 0);
}
