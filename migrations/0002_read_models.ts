// Projection checkpoints and the read_models schema. Frozen.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('projection_checkpoints')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('transaction_id', sql`xid8`, (c) => c.notNull().defaultTo(sql`'0'::xid8`))
    .addColumn('global_position', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('events_processed', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('running'))
    .addColumn('last_error', 'text')
    .addColumn('last_event_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema.createSchema('read_models').ifNotExists().execute();
  const rm = db.withSchema('read_models').schema;

  await rm
    .createTable('orders')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('customer_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('total_amount', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('item_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addColumn('completed_at', 'timestamptz')
    .addColumn('cancelled_at', 'timestamptz')
    .addColumn('cancellation_reason', 'text')
    .addColumn('version', 'integer', (c) => c.notNull())
    .execute();
  await rm
    .createIndex('orders_customer_created_idx')
    .on('orders')
    .columns(['customer_id', 'created_at desc'])
    .execute();
  await rm
    .createIndex('orders_status_created_idx')
    .on('orders')
    .columns(['status', 'created_at desc'])
    .execute();
  await rm.createIndex('orders_created_idx').on('orders').columns(['created_at desc']).execute();

  await rm
    .createTable('order_items')
    .addColumn('order_id', 'text', (c) => c.notNull())
    .addColumn('line_no', 'integer', (c) => c.notNull())
    .addColumn('product_id', 'text', (c) => c.notNull())
    .addColumn('quantity', 'integer', (c) => c.notNull())
    .addColumn('unit_price', 'bigint', (c) => c.notNull())
    .addColumn('total_price', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('order_items_pkey', ['order_id', 'line_no'])
    .execute();

  await rm
    .createTable('order_stats')
    .addColumn('status', 'text', (c) => c.primaryKey())
    .addColumn('count', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('revenue', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();

  await rm
    .createTable('inventory')
    .addColumn('product_id', 'text', (c) => c.primaryKey())
    .addColumn('on_hand', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('reserved', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('available', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();

  await rm
    .createTable('customer_credit')
    .addColumn('customer_id', 'text', (c) => c.primaryKey())
    .addColumn('available_cents', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('spent_cents', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropSchema('read_models').cascade().execute();
  await db.schema.dropTable('projection_checkpoints').execute();
}
