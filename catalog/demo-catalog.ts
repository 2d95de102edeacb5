// The demo catalog `npm start` seeds: products with stock and list prices, customers with
// credit. Seeding is idempotent (fixed event ids), so restarts do not restock.
import { v5 as uuidv5 } from 'uuid';
import type { EventStore } from '../eventstore';
import { grantCredit, restockProduct } from './catalog';

const DEMO_NAMESPACE = '9b1f4a52-55a3-4f0e-8f0c-3c1d2a7e4b10';

export const DEMO_PRODUCTS = [
  { productId: 'SKU-MUG', name: 'Coffee mug', stock: 100, unitPriceCents: 1_250 },
  { productId: 'SKU-TEE', name: 'T-shirt', stock: 50, unitPriceCents: 2_000 },
  { productId: 'SKU-CAP', name: 'Cap', stock: 20, unitPriceCents: 1_500 },
  { productId: 'SKU-LAPTOP', name: 'Laptop', stock: 5, unitPriceCents: 150_000 },
] as const;

export const DEMO_CUSTOMERS = [
  { customerId: 'alice', creditCents: 1_000_000 },
  { customerId: 'bob', creditCents: 10_000 },
  { customerId: 'carol', creditCents: 0 },
] as const;

export function listPriceCents(productId: string): number | undefined {
  return DEMO_PRODUCTS.find((p) => p.productId === productId)?.unitPriceCents;
}

export async function seedDemoCatalog(store: EventStore): Promise<void> {
  for (const p of DEMO_PRODUCTS) {
    await restockProduct(store, p.productId, p.stock, {
      eventId: uuidv5(`demo-stock:${p.productId}`, DEMO_NAMESPACE),
      metadata: { correlationId: 'demo-catalog' },
    });
  }
  for (const c of DEMO_CUSTOMERS) {
    if (c.creditCents === 0) continue;
    await grantCredit(store, c.customerId, c.creditCents, {
      eventId: uuidv5(`demo-credit:${c.customerId}`, DEMO_NAMESPACE),
      metadata: { correlationId: 'demo-catalog' },
    });
  }
}
