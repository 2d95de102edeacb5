// read_models.inventory: on_hand, reserved and available per product. A batch is summed per
// product in memory and written with one multi-row upsert of the deltas.
import type { InventoryEvent } from '../domain/inventory';
import type { RecordedEvent } from '../eventstore';
import { addSafe, eventTime, type Projection, ProjectionApplyError } from './projection';

/** How each event moves (on_hand, reserved); available is always on_hand - reserved. */
export function inventoryDelta(event: RecordedEvent): { onHand: number; reserved: number } {
  const e = { type: event.type, data: event.data } as InventoryEvent;
  const quantity = e.data?.quantity;
  if (!Number.isSafeInteger(quantity))
    throw new ProjectionApplyError(event, `quantity ${String(quantity)} is not an integer`);
  switch (e.type) {
    case 'StockRestocked':
      return { onHand: quantity, reserved: 0 };
    case 'StockReserved':
      return { onHand: 0, reserved: quantity };
    case 'ReservationCommitted':
      return { onHand: -quantity, reserved: -quantity };
    case 'ReservationReleased':
      return { onHand: 0, reserved: -quantity };
    default:
      throw new ProjectionApplyError(event, `inventory cannot apply ${event.type}`);
  }
}

export interface InventoryDelta {
  productId: string;
  onHand: number;
  reserved: number;
  version: number;
  updatedAt: string;
}

/** Pure: one delta per product for the whole batch. */
export function foldInventory(events: readonly RecordedEvent[]): InventoryDelta[] {
  const byProduct = new Map<string, InventoryDelta>();
  for (const event of events) {
    const d = inventoryDelta(event);
    let row = byProduct.get(event.streamId);
    if (!row) {
      row = { productId: event.streamId, onHand: 0, reserved: 0, version: 0, updatedAt: '' };
      byProduct.set(event.streamId, row);
    }
    row.onHand = addSafe(event, row.onHand, d.onHand);
    row.reserved = addSafe(event, row.reserved, d.reserved);
    row.version = event.version;
    row.updatedAt = eventTime(event);
  }
  return [...byProduct.values()];
}

export const inventoryProjection: Projection = {
  name: 'inventory',
  tables: ['inventory'],
  handles: new Set([
    'StockRestocked',
    'StockReserved',
    'ReservationCommitted',
    'ReservationReleased',
  ]),

  async apply({ client, table }, events) {
    const rows = foldInventory(events);
    if (rows.length === 0) return;
    const t = table('inventory');
    await client.query(
      `INSERT INTO ${t} AS t (product_id, on_hand, reserved, available, version, updated_at)
       SELECT p, oh, r, oh - r, v, u
       FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::int[], $5::timestamptz[])
         AS x(p, oh, r, v, u)
       ON CONFLICT (product_id) DO UPDATE SET
         on_hand = t.on_hand + EXCLUDED.on_hand,
         reserved = t.reserved + EXCLUDED.reserved,
         available = t.available + EXCLUDED.available,
         version = EXCLUDED.version,
         updated_at = EXCLUDED.updated_at`,
      [
        rows.map((r) => r.productId),
        rows.map((r) => r.onHand),
        rows.map((r) => r.reserved),
        rows.map((r) => r.version),
        rows.map((r) => r.updatedAt),
      ],
    );
  },
};
