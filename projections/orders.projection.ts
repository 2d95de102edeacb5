// read_models.orders, order_items and order_stats from the Order events (the original
// OrderProjection), money in cents. A batch loads the orders it touches once, folds every
// event in memory, and writes each order row, the new items and the statistics once.
import type {
  OrderCancelledData,
  OrderCompletedData,
  OrderCreatedData,
  OrderItemAddedData,
} from '../domain/order';
import type { RecordedEvent } from '../eventstore';
import { addSafe, eventTime, type Projection, ProjectionApplyError } from './projection';

/** One read_models.orders row as the fold sees it (timestamps as Postgres text or ISO). */
export interface OrderRow {
  id: string;
  customer_id: string;
  status: string;
  currency: string;
  total_amount: number;
  item_count: number;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  cancelled_at: string | null;
  cancellation_reason: string | null;
  version: number;
}

export interface OrderItemRow {
  order_id: string;
  line_no: number;
  product_id: string;
  quantity: number;
  unit_price: number;
  total_price: number;
  created_at: string;
}

export interface OrdersFold {
  orders: OrderRow[];
  items: OrderItemRow[];
  /** Change of count and revenue per status. */
  stats: Map<string, { count: number; revenue: number }>;
}

/** Pure: the rows a batch writes, given the rows it touches as they are before the batch. */
export function foldOrders(
  before: ReadonlyMap<string, OrderRow>,
  events: readonly RecordedEvent[],
): OrdersFold {
  const touched = new Map<string, OrderRow>();
  const items: OrderItemRow[] = [];
  const stats = new Map<string, { count: number; revenue: number }>();
  const moveStats = (event: RecordedEvent, status: string, count: number, revenue: number) => {
    const s = stats.get(status) ?? { count: 0, revenue: 0 };
    s.count += count;
    s.revenue = addSafe(event, s.revenue, revenue);
    stats.set(status, s);
  };
  const existing = (event: RecordedEvent): OrderRow => {
    let row = touched.get(event.streamId);
    if (!row) {
      const loaded = before.get(event.streamId);
      if (!loaded)
        throw new ProjectionApplyError(event, `order ${event.streamId} is not in the read model`);
      row = { ...loaded };
      touched.set(event.streamId, row);
    }
    return row;
  };

  for (const event of events) {
    const at = eventTime(event);
    switch (event.type) {
      case 'OrderCreated': {
        const data = event.data as OrderCreatedData;
        if (touched.has(event.streamId) || before.has(event.streamId))
          throw new ProjectionApplyError(event, `order ${event.streamId} already exists`);
        touched.set(event.streamId, {
          id: event.streamId,
          customer_id: data.customer_id,
          status: 'pending',
          currency: data.currency,
          total_amount: 0,
          item_count: 0,
          created_at: at,
          updated_at: at,
          completed_at: null,
          cancelled_at: null,
          cancellation_reason: null,
          version: event.version,
        });
        moveStats(event, 'pending', 1, 0);
        break;
      }
      case 'OrderItemAdded': {
        const data = event.data as OrderItemAddedData;
        const row = existing(event);
        if (!Number.isSafeInteger(data.quantity) || !Number.isSafeInteger(data.unit_price))
          throw new ProjectionApplyError(event, 'quantity and unit_price must be integers');
        const lineTotal = data.unit_price * data.quantity;
        if (!Number.isSafeInteger(lineTotal))
          throw new ProjectionApplyError(event, `line total ${lineTotal} is not a safe integer`);
        row.total_amount = addSafe(event, row.total_amount, lineTotal);
        row.item_count += data.quantity;
        row.updated_at = at;
        row.version = event.version;
        items.push({
          order_id: event.streamId,
          line_no: event.version,
          product_id: data.product_id,
          quantity: data.quantity,
          unit_price: data.unit_price,
          total_price: lineTotal,
          created_at: at,
        });
        moveStats(event, row.status, 0, lineTotal);
        break;
      }
      case 'OrderCompleted':
      case 'OrderCancelled': {
        const row = existing(event);
        const status = event.type === 'OrderCompleted' ? 'completed' : 'cancelled';
        moveStats(event, row.status, -1, -row.total_amount);
        moveStats(event, status, 1, row.total_amount);
        row.status = status;
        row.updated_at = at;
        row.version = event.version;
        if (status === 'completed') {
          row.completed_at = (event.data as OrderCompletedData).created_at ?? at;
        } else {
          row.cancelled_at = (event.data as OrderCancelledData).created_at ?? at;
          row.cancellation_reason = (event.data as OrderCancelledData).reason ?? null;
        }
        break;
      }
      default:
        throw new ProjectionApplyError(event, `orders cannot apply ${event.type}`);
    }
  }
  return { orders: [...touched.values()], items, stats };
}

const ORDER_COLUMNS = [
  ['id', 'text'],
  ['customer_id', 'text'],
  ['status', 'text'],
  ['currency', 'text'],
  ['total_amount', 'bigint'],
  ['item_count', 'int'],
  ['created_at', 'timestamptz'],
  ['updated_at', 'timestamptz'],
  ['completed_at', 'timestamptz'],
  ['cancelled_at', 'timestamptz'],
  ['cancellation_reason', 'text'],
  ['version', 'int'],
] as const;

const ITEM_COLUMNS = [
  ['order_id', 'text'],
  ['line_no', 'int'],
  ['product_id', 'text'],
  ['quantity', 'int'],
  ['unit_price', 'bigint'],
  ['total_price', 'bigint'],
  ['created_at', 'timestamptz'],
] as const;

/** INSERT ... SELECT FROM unnest($1::type[], ...): one statement for any number of rows. */
function unnestInsert(
  table: string,
  columns: readonly (readonly [string, string])[],
): { sql: string; params: (rows: readonly Record<string, unknown>[]) => unknown[][] } {
  const names = columns.map(([name]) => name).join(', ');
  const arrays = columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
  return {
    sql: `INSERT INTO ${table} AS t (${names}) SELECT * FROM unnest(${arrays})`,
    params: (rows) => columns.map(([name]) => rows.map((r) => r[name])),
  };
}

export const ordersProjection: Projection = {
  name: 'orders',
  tables: ['orders', 'order_items', 'order_stats'],
  handles: new Set(['OrderCreated', 'OrderItemAdded', 'OrderCompleted', 'OrderCancelled']),

  async apply({ client, table }, events) {
    if (events.length === 0) return;
    const orders = table('orders');
    // Every order the batch touches, those it creates too: a second OrderCreated for an order
    // already in the read model (an id reused, a replay one event at a time) must find it and
    // fail, never overwrite it. Timestamps as text so they are written back exactly.
    const ids = [...new Set(events.map((e) => e.streamId))];
    const before = new Map<string, OrderRow>();
    if (ids.length > 0) {
      const { rows } = await client.query<OrderRow & { total_amount: string }>(
        `SELECT id, customer_id, status, currency, total_amount, item_count,
                created_at::text AS created_at, updated_at::text AS updated_at,
                completed_at::text AS completed_at, cancelled_at::text AS cancelled_at,
                cancellation_reason, version
         FROM ${orders} WHERE id = ANY($1::text[])`,
        [ids],
      );
      for (const row of rows)
        before.set(row.id, { ...row, total_amount: Number(row.total_amount) });
    }
    const fold = foldOrders(before, events);

    if (fold.orders.length > 0) {
      const insert = unnestInsert(orders, ORDER_COLUMNS);
      const updates = ORDER_COLUMNS.filter(([name]) => name !== 'id' && name !== 'created_at')
        .map(([name]) => `${name} = EXCLUDED.${name}`)
        .join(', ');
      await client.query(
        `${insert.sql} ON CONFLICT (id) DO UPDATE SET ${updates}`,
        insert.params(fold.orders as unknown as Record<string, unknown>[]),
      );
    }
    if (fold.items.length > 0) {
      const insert = unnestInsert(table('order_items'), ITEM_COLUMNS);
      await client.query(
        insert.sql,
        insert.params(fold.items as unknown as Record<string, unknown>[]),
      );
    }
    // Zero moves are written too: which statuses have a row must not depend on batch boundaries.
    const stats = [...fold.stats.entries()];
    if (stats.length > 0) {
      await client.query(
        `INSERT INTO ${table('order_stats')} AS t (status, count, revenue)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
         ON CONFLICT (status) DO UPDATE SET
           count = t.count + EXCLUDED.count, revenue = t.revenue + EXCLUDED.revenue`,
        [stats.map(([s]) => s), stats.map(([, s]) => s.count), stats.map(([, s]) => s.revenue)],
      );
    }
  },
};
