// The event log at scale (`npm run bench -- log-scale`; `--events=N`, default 20M, 200k with
// --quick): seeds the shape a year of orders makes (many closed Order and OrderSaga streams,
// hot Inventory and CustomerCredit streams) in SQL, then measures, beside raw SQL on the same
// tables in the same run: appends (p50/p99 and orders/s) with and without retention running,
// retention's rate, a catch-up read of the whole log from 0, the same read after retention
// (live and archive merged), the lag query, and disk per million events.
import { SingleBar } from 'cli-progress';
import type pg from 'pg';
import { randomUUID } from 'node:crypto';
import { CLOSING_EVENTS } from '../../activities/retention.activities';
import {
  createDb,
  createEventStore,
  createPool,
  type EventStoreTables,
  type PostgresEventStore,
} from '../../eventstore';
import { START, type Checkpoint } from '../../eventstore/types';
import { type BenchRow, type BenchScenario, percentile, withRatios } from '../scenario';

const NAME = 'log-scale';
/** Events per order: Order 4 (created, 2 items, closed), OrderSaga 2, Inventory 1, Credit 1. */
const PER_ORDER = 8;
const PRODUCTS = 500;
const CUSTOMERS = 2000;
const CLIENTS = 4;

/**
 * One chunk of orders [from, to) of `total`, in one INSERT ... SELECT: order i is
 * (400 - 400 i / total) days old, every 5th is cancelled, the newest 2% are still open.
 */
const SEED_SQL = `
  INSERT INTO domain_events (event_id, aggregate_type, aggregate_id, version, event_type,
                             event_data, created_at)
  SELECT gen_random_uuid(), x.t, x.id, x.v, x.e, x.d,
         now() - make_interval(secs => (400 - 400.0 * o.i / $3) * 86400)
  FROM generate_series($1::int, $2::int - 1) AS o(i)
  CROSS JOIN LATERAL (VALUES
    ('Order', 'order-' || o.i, 1, 'OrderCreated',
       jsonb_build_object('order_id', 'order-' || o.i, 'customer_id', 'c' || (o.i % ${CUSTOMERS}),
                          'currency', 'USD')),
    ('Order', 'order-' || o.i, 2, 'OrderItemAdded',
       jsonb_build_object('product_id', 'p' || (o.i % ${PRODUCTS}), 'quantity', 1,
                          'unit_price_cents', 1250)),
    ('Order', 'order-' || o.i, 3, 'OrderItemAdded',
       jsonb_build_object('product_id', 'p' || ((o.i + 7) % ${PRODUCTS}), 'quantity', 2,
                          'unit_price_cents', 990)),
    ('OrderSaga', 'order-' || o.i, 1, 'SagaStarted', jsonb_build_object('order_id', 'order-' || o.i)),
    ('Inventory', 'p' || (o.i % ${PRODUCTS}), o.i / ${PRODUCTS} + 1, 'StockReserved',
       jsonb_build_object('order_id', 'order-' || o.i, 'quantity', 1)),
    ('CustomerCredit', 'c' || (o.i % ${CUSTOMERS}), o.i / ${CUSTOMERS} + 1, 'CreditReserved',
       jsonb_build_object('order_id', 'order-' || o.i, 'amount_cents', 3230)),
    ('OrderSaga', 'order-' || o.i, 2, 'SagaCompleted', jsonb_build_object('order_id', 'order-' || o.i)),
    ('Order', 'order-' || o.i, 4,
       CASE WHEN o.i >= $3 * 0.98 THEN 'OrderConfirmed'
            WHEN o.i % 5 = 0 THEN 'OrderCancelled' ELSE 'OrderCompleted' END,
       jsonb_build_object('order_id', 'order-' || o.i))
  ) AS x(t, id, v, e, d)`;

async function seed(pool: pg.Pool, orders: number, log: (line: string) => void): Promise<void> {
  const chunk = 25_000;
  const bar = new SingleBar({
    format: `[bench] ${NAME}: seeding [{bar}] {percentage}% | {value}/{total} events | {eta}s left`,
    stream: process.stderr,
  });
  bar.start(orders * PER_ORDER, 0);
  const started = Date.now();
  for (let from = 0; from < orders; from += chunk) {
    const to = Math.min(orders, from + chunk);
    await pool.query(SEED_SQL, [from, to, orders]);
    bar.update(to * PER_ORDER);
  }
  bar.stop();
  log(`seeded ${orders * PER_ORDER} events in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await pool.query('VACUUM ANALYZE domain_events');
}

interface AppendRun {
  latencies: number[];
  ordersPerSecond: number;
}

/** CLIENTS loops placing orders for `seconds`: an Order stream of 3 events, then hot streams. */
async function appendLoad(
  seconds: number,
  placeOrder: (n: number) => Promise<void>,
  until?: Promise<unknown>,
): Promise<AppendRun> {
  const latencies: number[] = [];
  let orders = 0;
  let stop = false;
  const timer = setTimeout(() => (stop = true), seconds * 1000);
  void until?.finally(() => (stop = true));
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (!stop) {
        const t0 = performance.now();
        await placeOrder(orders++);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  clearTimeout(timer);
  return { latencies, ordersPerSecond: latencies.length / ((performance.now() - started) / 1000) };
}

function storeOrder(store: PostgresEventStore) {
  return async (n: number) => {
    const id = randomUUID();
    await store.appendToStream({ type: 'Order', id }, 'no_stream', [
      { type: 'OrderCreated', data: { order_id: id, customer_id: `c${n % CUSTOMERS}` } },
      { type: 'OrderItemAdded', data: { product_id: `p${n % PRODUCTS}`, quantity: 1 } },
      { type: 'OrderItemAdded', data: { product_id: `p${(n + 7) % PRODUCTS}`, quantity: 2 } },
    ]);
    await store.appendToStream({ type: 'Inventory', id: `p${n % PRODUCTS}` }, 'any', [
      { type: 'StockReserved', data: { order_id: id, quantity: 1 } },
    ]);
    await store.appendToStream({ type: 'CustomerCredit', id: `c${n % CUSTOMERS}` }, 'any', [
      { type: 'CreditReserved', data: { order_id: id, amount_cents: 3230 } },
    ]);
  };
}

/** The same three writes as bare INSERTs into a table of the same shape without checks. */
function rawOrder(pool: pg.Pool) {
  return async (n: number) => {
    const id = randomUUID();
    await pool.query(
      `INSERT INTO raw_events (event_id, aggregate_type, aggregate_id, version, event_type, event_data)
       VALUES (gen_random_uuid(), 'Order', $1, 1, 'OrderCreated', $2),
              (gen_random_uuid(), 'Order', $1, 2, 'OrderItemAdded', $3),
              (gen_random_uuid(), 'Order', $1, 3, 'OrderItemAdded', $3)`,
      [id, JSON.stringify({ order_id: id }), JSON.stringify({ product_id: `p${n}`, quantity: 1 })],
    );
    for (const [type, sid] of [
      ['Inventory', `p${n % PRODUCTS}`],
      ['CustomerCredit', `c${n % CUSTOMERS}`],
    ])
      await pool.query(
        `INSERT INTO raw_events (event_id, aggregate_type, aggregate_id, version, event_type, event_data)
         VALUES (gen_random_uuid(), $1, $2, $3, 'Reserved', $4)`,
        [type, sid, n + 1_000_000_000, JSON.stringify({ order_id: id })],
      );
  };
}

/** The types whose payloads the read decodes (the others only move the checkpoint). */
const DECODED = new Set(['OrderCompleted', 'OrderCancelled', 'StockReserved', 'CreditReserved']);

/** Reads the whole log through the store from 0, as a catch-up or a rebuild does. */
async function readWholeLog(store: PostgresEventStore): Promise<{ events: number; s: number }> {
  const t0 = performance.now();
  let checkpoint: Checkpoint = START;
  let events = 0;
  for (;;) {
    const batch = await store.readAllFrom(checkpoint, {
      limit: 10_000,
      types: DECODED,
      metadata: false,
    });
    if (batch.events.length === 0) break;
    events += batch.events.length;
    checkpoint = batch.checkpoint;
  }
  return { events, s: (performance.now() - t0) / 1000 };
}

/**
 * The same events in the same order by a hand-written keyset statement, fetched into Node in
 * pages of the store's size, with the payload of the same event types: what a reader costs
 * without the store's decoding, upcasting and visibility bound.
 */
async function rawWholeLog(pool: pg.Pool): Promise<{ events: number; s: number }> {
  const t0 = performance.now();
  const types = [...DECODED];
  let after: [string, string] = ['0', '0'];
  let events = 0;
  for (;;) {
    // Each table's page by its own (transaction_id, global_position) index, then merged.
    const page = (table: string) =>
      `(SELECT global_position, transaction_id, event_id, aggregate_type, aggregate_id, version,
               event_type, CASE WHEN event_type = ANY($3::text[]) THEN event_data END AS event_data
        FROM ${table} WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
        ORDER BY transaction_id, global_position LIMIT 10000)`;
    const { rows } = await pool.query<{ transaction_id: string; global_position: string }>(
      `SELECT global_position, transaction_id::text AS transaction_id, event_id, aggregate_type,
              aggregate_id, version, event_type, event_data
       FROM (${page('domain_events')} UNION ALL ${page('domain_events_archive')}) l
       ORDER BY l.transaction_id, l.global_position
       LIMIT 10000`,
      [after[0], after[1], types],
    );
    if (rows.length === 0) break;
    events += rows.length;
    const last = rows[rows.length - 1]!;
    after = [last.transaction_id, last.global_position];
  }
  return { events, s: (performance.now() - t0) / 1000 };
}

const scenario: BenchScenario = {
  name: NAME,
  async run(ctx) {
    const requested = Number(ctx.options.get('events')?.[0] ?? (ctx.quick ? 200_000 : 20_000_000));
    const orders = Math.ceil(requested / PER_ORDER);
    const events = orders * PER_ORDER;
    const window = ctx.quick ? 5 : 20;
    const url = await ctx.freshDatabase();
    const pool = createPool(url, { max: CLIENTS * 2 + 4 });
    const db = createDb<EventStoreTables>(pool);
    const store = createEventStore(db);
    const rows: BenchRow[] = [];
    const variant = `${(events / 1e6).toFixed(1)}M events`;
    const row = (subject: string, metric: string, unit: string, value: number): BenchRow => ({
      scenario: NAME,
      subject,
      variant,
      metric,
      unit,
      value,
      runs: [value],
    });
    try {
      await seed(pool, orders, ctx.log);
      // The raw baseline's table: the same columns, no indexes but the position, no checks.
      await pool.query(
        `CREATE TABLE raw_events (LIKE domain_events INCLUDING DEFAULTS INCLUDING IDENTITY)`,
      );
      await pool.query(`ALTER TABLE raw_events ADD PRIMARY KEY (global_position)`);
      const disk = async (): Promise<number> => {
        const { rows: r } = await pool.query<{ bytes: string }>(
          `SELECT pg_total_relation_size('domain_events') +
                  pg_total_relation_size('domain_events_archive') AS bytes`,
        );
        return Number(r[0]!.bytes);
      };
      rows.push(
        row('this store', 'disk per 1M events', 'MB', (await disk()) / 1e6 / (events / 1e6)),
      );

      // Lag: a reader at 0 (a projection rebuilt from scratch) and one near the head.
      let t0 = performance.now();
      await store.lag(START);
      rows.push(row('this store', 'lag query, reader at 0', 'ms', performance.now() - t0));
      const { rows: near } = await pool.query<{ tx: string; pos: string }>(
        `SELECT transaction_id::text AS tx, global_position AS pos FROM domain_events
         ORDER BY transaction_id DESC, global_position DESC OFFSET 1000 LIMIT 1`,
      );
      t0 = performance.now();
      await store.lag({ transactionId: near[0]!.tx, globalPosition: Number(near[0]!.pos) });
      rows.push(row('this store', 'lag query, reader 1000 behind', 'ms', performance.now() - t0));

      const catchUp = await readWholeLog(store);
      ctx.log(`catch-up read: ${catchUp.events} events in ${catchUp.s.toFixed(1)} s`);
      rows.push(row('this store', 'catch-up read from 0', 'events/s', catchUp.events / catchUp.s));
      const rawRead = await rawWholeLog(pool);
      rows.push(row('raw SQL', 'catch-up read from 0', 'events/s', rawRead.events / rawRead.s));

      const push = (subject: string, suffix: string, run: AppendRun) => {
        rows.push(row(subject, `order p50${suffix}`, 'ms', percentile(run.latencies, 50)));
        rows.push(row(subject, `order p99${suffix}`, 'ms', percentile(run.latencies, 99)));
        rows.push(row(subject, `orders/s${suffix}`, 'orders/s', run.ordersPerSecond));
      };
      push('raw SQL', '', await appendLoad(window, rawOrder(pool)));
      push('this store', '', await appendLoad(window, storeOrder(store)));

      // Retention over the seeded year (everything closed before the last 30 days), with the
      // same appends running for as long as it runs (at most the window).
      const rt0 = performance.now();
      const retention = store.archiveClosedStreams({
        olderThanDays: 30,
        closingEvents: CLOSING_EVENTS,
        archive: true,
      });
      const during = await appendLoad(window, storeOrder(store), retention);
      const archived = await retention;
      const retentionS = (performance.now() - rt0) / 1000;
      ctx.log(
        `retention: ${archived.streams} streams, ${archived.events} events in ${retentionS.toFixed(1)} s`,
      );
      push('this store', ' during retention', during);
      rows.push(row('this store', 'retention', 'streams/s', archived.streams / retentionS));
      rows.push(row('this store', 'retention', 'events/s', archived.events / retentionS));
      // Raw SQL baseline for the move: one statement moving the same amount of rows back and
      // forth is not comparable; the bare DELETE ... RETURNING into a copy of the archive is.
      await pool.query(`CREATE TABLE raw_archive (LIKE domain_events_archive INCLUDING DEFAULTS)`);
      t0 = performance.now();
      const { rowCount } = await pool.query(
        `WITH moved AS (DELETE FROM raw_events RETURNING *)
         INSERT INTO raw_archive (global_position, transaction_id, event_id, aggregate_type,
           aggregate_id, version, event_type, schema_version, event_data, event_data_bytes, codec,
           key_id, metadata, created_at)
         SELECT global_position, transaction_id, event_id, aggregate_type, aggregate_id,
           version, event_type, schema_version, event_data, event_data_bytes, codec, key_id,
           metadata, created_at FROM moved`,
      );
      rows.push(
        row(
          'raw SQL',
          'retention',
          'events/s',
          (rowCount ?? 0) / ((performance.now() - t0) / 1000),
        ),
      );

      await pool.query('VACUUM ANALYZE domain_events');
      await pool.query('VACUUM ANALYZE domain_events_archive');
      const rebuild = await readWholeLog(store);
      ctx.log(`read after retention: ${rebuild.events} events in ${rebuild.s.toFixed(1)} s`);
      rows.push(
        row('this store', 'rebuild read after retention', 'events/s', rebuild.events / rebuild.s),
      );
      const rawRebuild = await rawWholeLog(pool);
      rows.push(
        row(
          'raw SQL',
          'rebuild read after retention',
          'events/s',
          rawRebuild.events / rawRebuild.s,
        ),
      );
      rows.push(
        row(
          'this store',
          'disk per 1M events after retention',
          'MB',
          (await disk()) / 1e6 / (rebuild.events / 1e6),
        ),
      );
      return withRatios(rows, 'raw SQL');
    } finally {
      await db.destroy();
    }
  },
};

export default scenario;
