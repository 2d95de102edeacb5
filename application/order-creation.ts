// What an order was created with, as its Order stream records it, live or archived by retention:
// the truth a reused order id is judged by, whatever Temporal still remembers of the saga. The
// order client reads it before a start; the saga's create step reads it when it finds the order
// already stored.
import type { OrderCreatedData, OrderItemAddedData, OrderLine } from '../domain/order';
import { canonicalJson } from '../eventstore/canonical-json';
import type { EventMetadata, EventStore, RecordedEvent } from '../eventstore';
import { clearPersonalData, type PersonalData } from '../keys/personal-data';

/** What makes two starts the same order: not the correlation id, not the saga's settings. */
export interface OrderContent {
  customerId: string;
  currency: string;
  items: readonly OrderLine[];
  shippingAddress?: Record<string, unknown> | null;
}

export interface OrderCreation {
  content: OrderContent;
  /** The creating append's metadata (workflowId, runId, correlationId when a saga wrote it). */
  metadata: EventMetadata;
}

/**
 * The content as one string: equal strings, same order. Key order and an absent versus a null
 * shipping address make no difference (jsonb keeps neither).
 */
export function orderContentKey(content: OrderContent): string {
  return canonicalJson({
    customerId: content.customerId,
    currency: content.currency,
    items: content.items.map((i) => ({
      productId: i.productId,
      quantity: i.quantity,
      unitPriceCents: i.unitPriceCents,
    })),
    shippingAddress: content.shippingAddress ?? null,
  });
}

export function sameOrderContent(a: OrderContent, b: OrderContent): boolean {
  return orderContentKey(a) === orderContentKey(b);
}

/**
 * The order as created: OrderCreated and the OrderItemAdded events written in the same
 * transaction (the create step's one append). Lines added later (addItem) come in other
 * transactions and are not part of what the order was started with.
 */
export function orderCreationOf(events: readonly RecordedEvent[]): OrderCreation | undefined {
  const [first, ...rest] = events;
  if (!first || first.type !== 'OrderCreated') return undefined;
  const created = first.data as OrderCreatedData;
  const items: OrderLine[] = [];
  for (const event of rest) {
    if (event.transactionId !== first.transactionId || event.type !== 'OrderItemAdded') break;
    const line = event.data as OrderItemAddedData;
    items.push({
      productId: line.product_id,
      quantity: line.quantity,
      unitPriceCents: line.unit_price,
    });
  }
  return {
    content: {
      customerId: created.customer_id,
      currency: created.currency,
      items,
      shippingAddress: created.shipping_address,
    },
    metadata: first.metadata,
  };
}

/**
 * The order's creation as stored, or undefined when the event store holds no such order. Its
 * shipping address is opened (keys/personal-data.ts): in clear, or ERASED once the customer was
 * forgotten, which no new start can equal, so a forgotten customer's order id stays taken.
 */
export async function readOrderCreation(
  store: Pick<EventStore, 'readStream'>,
  orderId: string,
  personal: PersonalData = clearPersonalData,
): Promise<OrderCreation | undefined> {
  const creation = orderCreationOf(await store.readStream({ type: 'Order', id: orderId }));
  if (!creation) return undefined;
  const { content } = creation;
  const address = await personal.open(
    content.customerId,
    'shipping_address',
    content.shippingAddress,
  );
  return {
    ...creation,
    content: { ...content, shippingAddress: address as OrderContent['shippingAddress'] },
  };
}

/** What the order client asks of the event store (bootstrap.ts passes one built on the store). */
export interface OrderRecords {
  readOrderCreation(orderId: string): Promise<OrderCreation | undefined>;
}

export function orderRecordsOf(
  store: Pick<EventStore, 'readStream'>,
  personal?: PersonalData,
): OrderRecords {
  return { readOrderCreation: (orderId) => readOrderCreation(store, orderId, personal) };
}
