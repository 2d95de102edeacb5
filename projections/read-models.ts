// Queries over the read models, for the HTTP API and the CLI. Rows come back in the API's
// camelCase shapes with money in integer cents.
import { type Kysely, type Selectable, sql } from 'kysely';
import type { OrdersTable, ProjectionDb } from './schema';
import { lagSelect } from '../eventstore/log-sql';

const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());

export interface OrderView {
  id: string;
  customerId: string;
  status: 'pending' | 'completed' | 'cancelled';
  currency: string;
  totalAmountCents: number;
  itemCount: number;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
  cancelledAt: string | null;
  cancellationReason: string | null;
  version: number;
}

type OrderRowSelect = Selectable<OrdersTable>;

function toOrderView(row: OrderRowSelect): OrderView {
  return {
    id: row.id,
    customerId: row.customer_id,
    status: row.status as OrderView['status'],
    currency: row.currency,
    totalAmountCents: Number(row.total_amount),
    itemCount: row.item_count,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
    completedAt: iso(row.completed_at),
    cancelledAt: iso(row.cancelled_at),
    cancellationReason: row.cancellation_reason,
    version: row.version,
  };
}

export async function findOrder(
  db: Kysely<ProjectionDb>,
  id: string,
): Promise<OrderView | undefined> {
  const row = await db
    .selectFrom('read_models.orders')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  return row ? toOrderView(row) : undefined;
}

export interface Page {
  limit: number;
  offset: number;
}

export interface PageOf<T> {
  items: T[];
  limit: number;
  offset: number;
  total: number;
}

/** Orders, newest first, optionally of one status and/or one customer. */
export async function listOrders(
  db: Kysely<ProjectionDb>,
  filter: { status?: string; customerId?: string },
  page: Page,
): Promise<PageOf<OrderView>> {
  let query = db.selectFrom('read_models.orders');
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.customerId) query = query.where('customer_id', '=', filter.customerId);
  const [rows, count] = await Promise.all([
    query
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(page.limit)
      .offset(page.offset)
      .execute(),
    query.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return {
    items: rows.map((r) => toOrderView(r)),
    ...page,
    total: Number(count.n),
  };
}

export interface OrderItemView {
  lineNo: number;
  productId: string;
  quantity: number;
  unitPriceCents: number;
  totalPriceCents: number;
  createdAt: string;
}

export async function listOrderItems(
  db: Kysely<ProjectionDb>,
  orderId: string,
  page: Page,
): Promise<PageOf<OrderItemView>> {
  const query = db.selectFrom('read_models.order_items').where('order_id', '=', orderId);
  const [rows, count] = await Promise.all([
    query.selectAll().orderBy('line_no').limit(page.limit).offset(page.offset).execute(),
    query.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return {
    items: rows.map((r) => ({
      lineNo: r.line_no,
      productId: r.product_id,
      quantity: r.quantity,
      unitPriceCents: Number(r.unit_price),
      totalPriceCents: Number(r.total_price),
      createdAt: iso(r.created_at)!,
    })),
    ...page,
    total: Number(count.n),
  };
}

export const ORDER_STATUSES = ['pending', 'completed', 'cancelled'] as const;

export type OrderStatsView = Record<
  (typeof ORDER_STATUSES)[number],
  { count: number; revenueCents: number }
>;

export async function orderStats(db: Kysely<ProjectionDb>): Promise<OrderStatsView> {
  const rows = await db.selectFrom('read_models.order_stats').selectAll().execute();
  const out = Object.fromEntries(
    ORDER_STATUSES.map((s) => [s, { count: 0, revenueCents: 0 }]),
  ) as OrderStatsView;
  for (const r of rows) {
    if ((ORDER_STATUSES as readonly string[]).includes(r.status))
      out[r.status as keyof OrderStatsView] = {
        count: Number(r.count),
        revenueCents: Number(r.revenue),
      };
  }
  return out;
}

export interface InventoryView {
  productId: string;
  onHand: number;
  reserved: number;
  available: number;
  version: number;
  updatedAt: string;
}

export async function findInventory(
  db: Kysely<ProjectionDb>,
  productId: string,
): Promise<InventoryView | undefined> {
  const r = await db
    .selectFrom('read_models.inventory')
    .selectAll()
    .where('product_id', '=', productId)
    .executeTakeFirst();
  return r
    ? {
        productId: r.product_id,
        onHand: Number(r.on_hand),
        reserved: Number(r.reserved),
        available: Number(r.available),
        version: r.version,
        updatedAt: iso(r.updated_at)!,
      }
    : undefined;
}

export interface CreditView {
  customerId: string;
  availableCents: number;
  spentCents: number;
  version: number;
  updatedAt: string;
}

export async function findCredit(
  db: Kysely<ProjectionDb>,
  customerId: string,
): Promise<CreditView | undefined> {
  const r = await db
    .selectFrom('read_models.customer_credit')
    .selectAll()
    .where('customer_id', '=', customerId)
    .executeTakeFirst();
  return r
    ? {
        customerId: r.customer_id,
        availableCents: Number(r.available_cents),
        spentCents: Number(r.spent_cents),
        version: r.version,
        updatedAt: iso(r.updated_at)!,
      }
    : undefined;
}

/** Age of the oldest open transaction: it holds back every reader of the global log. */
export async function oldestTransactionAgeSeconds(db: Kysely<ProjectionDb>): Promise<number> {
  return (await projectionHealth(db)).oldestTransactionAgeSeconds;
}

export interface ProjectionStatus {
  name: string;
  status: string;
  transactionId: string;
  globalPosition: number;
  eventsProcessed: number;
  /** Committed events not applied yet, readable or still behind an open transaction. */
  lagEvents: number;
  /** false: lagEvents is above LAG_COUNT_CAP and estimated from global positions. */
  lagExact: boolean;
  /** Age of the oldest committed event not applied yet. */
  lagSeconds: number;
  lastError: string | null;
  updatedAt: string;
  /** Events set aside in projection_dead_letters and still parked. */
  deadLetters: number;
}

export interface ProjectionHealth {
  projections: ProjectionStatus[];
  /** Age of the oldest open transaction with an xid: it holds back every reader of the log. */
  oldestTransactionAgeSeconds: number;
}

/**
 * Positions and lag of every projection and the age of the oldest open transaction, in one
 * statement whose cost is bounded whatever the backlog (lagSelect): a scrape or a page refresh
 * costs one round trip.
 */
export async function projectionHealth(db: Kysely<ProjectionDb>): Promise<ProjectionHealth> {
  const { rows } = await sql<{
    tx_age: number | null;
    name: string | null;
    status: string;
    transaction_id: string;
    global_position: string;
    events_processed: string;
    last_error: string | null;
    updated_at: Date;
    lag_events: string;
    lag_exact: boolean;
    oldest_pending: Date | null;
    dead_letters: string;
  }>`
    SELECT tx.age AS tx_age, p.*
    FROM (SELECT extract(epoch FROM now() - min(xact_start))::float8 AS age
          FROM pg_stat_activity
          WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()) tx
    LEFT JOIN LATERAL (
      SELECT c.*, lag.n AS lag_events, lag.exact AS lag_exact, lag.oldest AS oldest_pending,
             (SELECT count(*) FROM projection_dead_letters d
              WHERE d.projection = c.name AND d.status = 'parked') AS dead_letters
      FROM projection_checkpoints c
      CROSS JOIN LATERAL (${sql.raw(lagSelect('c.transaction_id', 'c.global_position'))}) lag
    ) p ON true
    ORDER BY p.name`.execute(db);
  const now = Date.now();
  return {
    oldestTransactionAgeSeconds: Math.max(0, rows[0]?.tx_age ?? 0),
    projections: rows.flatMap((r) =>
      r.name === null
        ? []
        : [
            {
              name: r.name,
              status: r.status,
              transactionId: r.transaction_id,
              globalPosition: Number(r.global_position),
              eventsProcessed: Number(r.events_processed),
              lagEvents: Number(r.lag_events),
              lagExact: r.lag_exact,
              lagSeconds: r.oldest_pending
                ? Math.max(0, (now - r.oldest_pending.getTime()) / 1000)
                : 0,
              lastError: r.last_error,
              updatedAt: r.updated_at.toISOString(),
              deadLetters: Number(r.dead_letters),
            },
          ],
    ),
  };
}

/** Positions and lag of every projection (projectionHealth without the transaction age). */
export async function projectionStatus(db: Kysely<ProjectionDb>): Promise<ProjectionStatus[]> {
  return (await projectionHealth(db)).projections;
}
