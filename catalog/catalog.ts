// Catalog writes outside any saga: restocking a product and granting credit to a customer are
// events on the Inventory and CustomerCredit aggregates, written straight to the event store.
import { CreditDecider } from '../domain/credit';
import { InventoryDecider } from '../domain/inventory';
import { handleCommand, loadAggregate } from '../application';
import type { EventMetadata, EventStore } from '../eventstore';

export interface CatalogWriteOptions {
  /** Makes the write idempotent: the same key never writes twice. */
  eventId?: string;
  metadata?: EventMetadata;
}

export async function restockProduct(
  store: EventStore,
  productId: string,
  quantity: number,
  options: CatalogWriteOptions = {},
) {
  if (options.eventId && (await store.hasEvent(options.eventId))) {
    const { state, version } = await loadAggregate(store, InventoryDecider, productId);
    return { productId, ...state, version };
  }
  const result = await handleCommand(
    store,
    InventoryDecider,
    productId,
    { type: 'Restock', productId, quantity, now: new Date().toISOString() },
    { eventId: options.eventId ? () => options.eventId! : undefined, metadata: options.metadata },
  );
  return { productId, ...result.state, version: result.version };
}

export async function grantCredit(
  store: EventStore,
  customerId: string,
  cents: number,
  options: CatalogWriteOptions = {},
) {
  if (options.eventId && (await store.hasEvent(options.eventId))) {
    const { state, version } = await loadAggregate(store, CreditDecider, customerId);
    return { customerId, ...state, version };
  }
  const result = await handleCommand(
    store,
    CreditDecider,
    customerId,
    { type: 'GrantCredit', customerId, cents, now: new Date().toISOString() },
    { eventId: options.eventId ? () => options.eventId! : undefined, metadata: options.metadata },
  );
  return { customerId, ...result.state, version: result.version };
}
