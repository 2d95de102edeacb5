// The arguments orderSaga gives its four event-store activities for one order, for the bench's
// subjects that run those activities without the saga: the bare workflow (bundled with it) and
// the activities called alone in the bench's process.
import type { OrderActivities } from '../../activities/order.activities';
import { orderTotalCents } from '../../domain/order';
import type { OrderSagaInput } from '../../workflows/types';

type InputOf<K extends keyof OrderActivities> = Parameters<OrderActivities[K]>[0];

export interface SagaSteps {
  createOrder: InputOf<'createOrder'>;
  reserveInventoryItems: InputOf<'reserveInventoryItems'>;
  chargePayment: InputOf<'chargePayment'>;
  confirmOrder: InputOf<'confirmOrder'>;
}

export function sagaSteps(input: OrderSagaInput): SagaSteps {
  const { orderId, customerId, correlationId, items } = input;
  return {
    createOrder: {
      orderId,
      customerId,
      currency: input.currency,
      items,
      shippingAddress: input.shippingAddress,
      correlationId,
      step: 'create_order',
    },
    reserveInventoryItems: {
      orderId,
      items: items.map(({ productId, quantity }) => ({ productId, quantity })),
      correlationId,
    },
    chargePayment: {
      orderId,
      customerId,
      amountCents: orderTotalCents(items),
      correlationId,
      step: 'charge',
    },
    confirmOrder: {
      orderId,
      productIds: items.map((l) => l.productId),
      correlationId,
      step: 'confirm',
    },
  };
}
