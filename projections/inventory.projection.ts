// read_models.inventory: on_hand, reserved and available per product.
import { sql } from 'kysely';
import type { InventoryEvent } from '../domain/inventory';
import type { Projection } from './projection';

/** How each event moves (on_hand, reserved); available is always on_hand - reserved. */
function delta(event: InventoryEvent): { onHand: number; reserved: number } {
  switch (event.type) {
    case 'StockRestocked':
      return { onHand: event.data.quantity, reserved: 0 };
    case 'StockReserved':
      return { onHand: 0, reserved: event.data.quantity };
    case 'ReservationCommitted':
      return { onHand: -event.data.quantity, reserved: -event.data.quantity };
    case 'ReservationReleased':
      return { onHand: 0, reserved: -event.data.quantity };
  }
}

export const inventoryProjection: Projection = {
  name: 'inventory',
  tables: ['read_models.inventory'],
  handles: new Set([
    'StockRestocked',
    'StockReserved',
    'ReservationCommitted',
    'ReservationReleased',
  ]),

  async apply(db, event) {
    const d = delta({ type: event.type, data: event.data } as InventoryEvent);
    const at = event.createdAt;
    await db
      .insertInto('read_models.inventory')
      .values({
        product_id: event.streamId,
        on_hand: d.onHand,
        reserved: d.reserved,
        available: d.onHand - d.reserved,
        version: event.version,
        updated_at: at,
      })
      .onConflict((oc) =>
        oc.column('product_id').doUpdateSet({
          on_hand: sql`read_models.inventory.on_hand + ${d.onHand}`,
          reserved: sql`read_models.inventory.reserved + ${d.reserved}`,
          available: sql`read_models.inventory.available + ${d.onHand - d.reserved}`,
          version: event.version,
          updated_at: at,
        }),
      )
      .execute();
  },
};
