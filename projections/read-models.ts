// Queries over the read models, for the HTTP API and the CLI. Rows come back in the API's
// camelCase shapes with money in integer cents.
import { type Kysely, sql } from 'kysely';
import type { ProjectionDb } from './schema';

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

export async function findOrder(
  db: Kysely<ProjectionDb>,
  id: string,
): Promise<OrderView | undefined> {
  const row = await db
    .selectFrom('read_models.orders')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) return undefined;
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

export interface ProjectionStatus {
  name: string;
  status: string;
  transactionId: string;
  globalPosition: number;
  eventsProcessed: number;
  lagEvents: number;
  lagSeconds: number;
  lastError: string | null;
  updatedAt: string;
}

/** Positions and lag of every projection, measured against the visible end of the log. */
export async function projectionStatus(db: Kysely<ProjectionDb>): Promise<ProjectionStatus[]> {
  const { rows } = await sql<{
    name: string;
    status: string;
    transaction_id: string;
    global_position: string;
    events_processed: string;
    last_error: string | null;
    updated_at: Date;
    lag_events: string;
    oldest_pending: Date | null;
  }>`
    SELECT c.*, lag.n AS lag_events, lag.oldest AS oldest_pending
    FROM projection_checkpoints c
    CROSS JOIN LATERAL (
      SELECT count(*) AS n, min(e.created_at) AS oldest FROM domain_events e
      WHERE (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position)
        AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
    ) lag
    ORDER BY c.name`.execute(db);
  return rows.map((r) => ({
    name: r.name,
    status: r.status,
    transactionId: r.transaction_id,
    globalPosition: Number(r.global_position),
    eventsProcessed: Number(r.events_processed),
    lagEvents: Number(r.lag_events),
    lagSeconds: r.oldest_pending
      ? Math.max(0, (Date.now() - r.oldest_pending.getTime()) / 1000)
      : 0,
    lastError: r.last_error,
    updatedAt: r.updated_at.toISOString(),
  }));
}
