// read_models.orders, order_items and order_stats from the Order events (the seed's
// OrderProjection), money in cents.
import { type Kysely, sql } from 'kysely';
import type {
  OrderCancelledData,
  OrderCompletedData,
  OrderCreatedData,
  OrderItemAddedData,
} from '../domain/order';
import type { RecordedEvent } from '../eventstore';
import type { Projection } from './projection';
import type { ReadModelTables } from './schema';

type Db = Kysely<ReadModelTables>;

async function moveStats(db: Db, status: string, count: number, revenue: number): Promise<void> {
  await db
    .insertInto('read_models.order_stats')
    .values({ status, count, revenue })
    .onConflict((oc) =>
      oc.column('status').doUpdateSet({
        count: sql`read_models.order_stats.count + ${count}`,
        revenue: sql`read_models.order_stats.revenue + ${revenue}`,
      }),
    )
    .execute();
}

async function closeOrder(
  db: Db,
  event: RecordedEvent,
  status: 'completed' | 'cancelled',
  changes: { completed_at?: string; cancelled_at?: string; cancellation_reason?: string },
  at: string,
): Promise<void> {
  const before = await db
    .updateTable('read_models.orders')
    .set({ status, ...changes, updated_at: at, version: event.version })
    .where('id', '=', event.streamId)
    .returning(['total_amount'])
    .executeTakeFirstOrThrow();
  const total = Number(before.total_amount);
  await moveStats(db, 'pending', -1, -total);
  await moveStats(db, status, 1, total);
}

export const ordersProjection: Projection = {
  name: 'orders',
  tables: ['read_models.orders', 'read_models.order_items', 'read_models.order_stats'],
  handles: new Set(['OrderCreated', 'OrderItemAdded', 'OrderCompleted', 'OrderCancelled']),

  async apply(db, event) {
    switch (event.type) {
      case 'OrderCreated': {
        const data = event.data as OrderCreatedData;
        await db
          .insertInto('read_models.orders')
          .values({
            id: event.streamId,
            customer_id: data.customer_id,
            status: 'pending',
            currency: data.currency,
            total_amount: 0,
            item_count: 0,
            created_at: data.created_at,
            updated_at: data.created_at,
            version: event.version,
          })
          .execute();
        await moveStats(db, 'pending', 1, 0);
        return;
      }
      case 'OrderItemAdded': {
        const data = event.data as OrderItemAddedData;
        const lineTotal = data.unit_price * data.quantity;
        await db
          .updateTable('read_models.orders')
          .set({
            total_amount: sql`total_amount + ${lineTotal}`,
            item_count: sql`item_count + ${data.quantity}`,
            updated_at: data.created_at,
            version: event.version,
          })
          .where('id', '=', event.streamId)
          .executeTakeFirstOrThrow();
        await db
          .insertInto('read_models.order_items')
          .values({
            order_id: event.streamId,
            line_no: event.version,
            product_id: data.product_id,
            quantity: data.quantity,
            unit_price: data.unit_price,
            total_price: lineTotal,
            created_at: data.created_at,
          })
          .execute();
        await moveStats(db, 'pending', 0, lineTotal);
        return;
      }
      case 'OrderCompleted': {
        const data = event.data as OrderCompletedData;
        await closeOrder(
          db,
          event,
          'completed',
          { completed_at: data.created_at },
          data.created_at,
        );
        return;
      }
      case 'OrderCancelled': {
        const data = event.data as OrderCancelledData;
        await closeOrder(
          db,
          event,
          'cancelled',
          { cancelled_at: data.created_at, cancellation_reason: data.reason },
          data.created_at,
        );
        return;
      }
      default:
        return;
    }
  },
};
