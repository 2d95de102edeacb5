// The read models computed straight from domain_events with one SQL query per table, by a
// route independent of the runner: the oracle that tests compare the runner with, row by row,
// and the raw-SQL baseline of the catch-up benchmark. Plain JSON payloads only (codec 'json').
import type pg from 'pg';

const ts = (expr: string) => `(${expr})::timestamptz`;

const orderRows = `
  WITH ev AS (
    SELECT aggregate_id AS id, version, event_type AS t, event_data AS d FROM domain_events
    WHERE event_type IN ('OrderCreated', 'OrderItemAdded', 'OrderCompleted', 'OrderCancelled')
  ),
  created AS (
    SELECT id, d->>'customer_id' AS customer_id, d->>'currency' AS currency,
           ${ts("d->>'created_at'")} AS created_at
    FROM ev WHERE t = 'OrderCreated'
  ),
  items AS (
    SELECT id, sum((d->>'quantity')::bigint * (d->>'unit_price')::bigint) AS total,
           sum((d->>'quantity')::int) AS n
    FROM ev WHERE t = 'OrderItemAdded' GROUP BY id
  ),
  closed AS (
    SELECT DISTINCT ON (id) id, t, ${ts("d->>'created_at'")} AS at, d->>'reason' AS reason
    FROM ev WHERE t IN ('OrderCompleted', 'OrderCancelled') ORDER BY id, version DESC
  ),
  last AS (
    SELECT DISTINCT ON (id) id, version, ${ts("d->>'created_at'")} AS at
    FROM ev ORDER BY id, version DESC
  )
  SELECT c.id, c.customer_id,
         CASE cl.t WHEN 'OrderCompleted' THEN 'completed' WHEN 'OrderCancelled' THEN 'cancelled'
                   ELSE 'pending' END AS status,
         c.currency, coalesce(i.total, 0)::bigint AS total_amount,
         coalesce(i.n, 0)::int AS item_count, c.created_at, l.at AS updated_at,
         CASE WHEN cl.t = 'OrderCompleted' THEN cl.at END AS completed_at,
         CASE WHEN cl.t = 'OrderCancelled' THEN cl.at END AS cancelled_at,
         CASE WHEN cl.t = 'OrderCancelled' THEN cl.reason END AS cancellation_reason,
         l.version
  FROM created c JOIN last l USING (id) LEFT JOIN items i USING (id) LEFT JOIN closed cl USING (id)`;

/** One query per read-model table, in the table's column order, sorted by its key. */
export const referenceQueries: Record<string, string> = {
  orders: `SELECT * FROM (${orderRows}) o ORDER BY id`,
  order_items: `
    SELECT aggregate_id AS order_id, version AS line_no, event_data->>'product_id' AS product_id,
           (event_data->>'quantity')::int AS quantity, (event_data->>'unit_price')::bigint AS unit_price,
           (event_data->>'quantity')::bigint * (event_data->>'unit_price')::bigint AS total_price,
           ${ts("event_data->>'created_at'")} AS created_at
    FROM domain_events WHERE event_type = 'OrderItemAdded' ORDER BY 1, 2`,
  // A status has a row once any event moved an order into it, even when its count is back to 0.
  order_stats: `
    WITH o AS (${orderRows}),
    s AS (
      SELECT DISTINCT CASE event_type WHEN 'OrderCreated' THEN 'pending'
                        WHEN 'OrderCompleted' THEN 'completed' ELSE 'cancelled' END AS status
      FROM domain_events WHERE event_type IN ('OrderCreated', 'OrderCompleted', 'OrderCancelled')
    )
    SELECT s.status, count(o.id)::bigint AS count, coalesce(sum(o.total_amount), 0)::bigint AS revenue
    FROM s LEFT JOIN o ON o.status = s.status GROUP BY s.status ORDER BY 1`,
  inventory: `
    WITH ev AS (
      SELECT aggregate_id AS id, version, event_type AS t, (event_data->>'quantity')::bigint AS q,
             ${ts("event_data->>'created_at'")} AS at
      FROM domain_events WHERE event_type IN
        ('StockRestocked', 'StockReserved', 'ReservationCommitted', 'ReservationReleased')
    ),
    sums AS (
      SELECT id,
        sum(CASE t WHEN 'StockRestocked' THEN q WHEN 'ReservationCommitted' THEN -q ELSE 0 END) AS on_hand,
        sum(CASE t WHEN 'StockReserved' THEN q WHEN 'StockRestocked' THEN 0 ELSE -q END) AS reserved
      FROM ev GROUP BY id
    ),
    last AS (SELECT DISTINCT ON (id) id, version, at FROM ev ORDER BY id, version DESC)
    SELECT id AS product_id, on_hand::bigint, reserved::bigint, (on_hand - reserved)::bigint AS available,
           version, at AS updated_at
    FROM sums JOIN last USING (id) ORDER BY 1`,
  customer_credit: `
    WITH ev AS (
      SELECT aggregate_id AS id, version, event_type AS t, (event_data->>'cents')::bigint AS c,
             ${ts("event_data->>'created_at'")} AS at
      FROM domain_events WHERE event_type IN ('CreditGranted', 'PaymentCharged', 'PaymentRefunded')
    ),
    sums AS (
      SELECT id,
        sum(CASE t WHEN 'PaymentCharged' THEN -c ELSE c END) AS available_cents,
        sum(CASE t WHEN 'PaymentCharged' THEN c WHEN 'PaymentRefunded' THEN -c ELSE 0 END) AS spent_cents
      FROM ev GROUP BY id
    ),
    last AS (SELECT DISTINCT ON (id) id, version, at FROM ev ORDER BY id, version DESC)
    SELECT id AS customer_id, available_cents::bigint, spent_cents::bigint, version, at AS updated_at
    FROM sums JOIN last USING (id) ORDER BY 1`,
};

const liveOrder: Record<string, string> = {
  orders: 'id',
  order_items: 'order_id, line_no',
  order_stats: 'status',
  inventory: 'product_id',
  customer_credit: 'customer_id',
};

/** Every row of a live read-model table, sorted by its key, as JSON text. */
export async function liveRows(client: pg.ClientBase | pg.Pool, table: string): Promise<string[]> {
  const { rows } = await client.query<{ j: string }>(
    `SELECT to_jsonb(x)::text AS j FROM read_models.${table} x ORDER BY ${liveOrder[table]}`,
  );
  return rows.map((r) => r.j);
}

/** The same rows computed from the log by referenceQueries. */
export async function referenceRows(
  client: pg.ClientBase | pg.Pool,
  table: string,
): Promise<string[]> {
  const { rows } = await client.query<{ j: string }>(
    `SELECT to_jsonb(x)::text AS j FROM (${referenceQueries[table]}) x`,
  );
  return rows.map((r) => r.j);
}

export const READ_MODEL_TABLES = Object.keys(liveOrder);
