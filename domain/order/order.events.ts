// Order events as stored in domain_events.event_data (snake_case, as the read models name them).
// Current schema versions: OrderCreated v2 (shipping_address), OrderItemAdded v2 (tax_amount).
import type { DomainEvent } from '../shared';

export interface OrderCreatedData {
  order_id: string;
  customer_id: string;
  currency: string;
  shipping_address: Record<string, unknown> | null;
  created_at: string;
}
export interface OrderItemAddedData {
  order_id: string;
  product_id: string;
  quantity: number;
  /** cents */
  unit_price: number;
  /** cents */
  tax_amount: number;
  created_at: string;
}
export interface OrderCompletedData {
  order_id: string;
  /** cents */
  total_amount: number;
  currency: string;
  created_at: string;
}
export interface OrderCancelledData {
  order_id: string;
  reason: string;
  created_at: string;
}

export type OrderEvent =
  | DomainEvent<'OrderCreated', OrderCreatedData>
  | DomainEvent<'OrderItemAdded', OrderItemAddedData>
  | DomainEvent<'OrderCompleted', OrderCompletedData>
  | DomainEvent<'OrderCancelled', OrderCancelledData>;
