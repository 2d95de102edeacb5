// Retention without a table lock, and tombstones. A stream that retention archives or deletes
// leaves a row in stream_tombstones: appends refuse that stream from then on (a reused id would
// write a second OrderCreated that the projections cannot fold), and the tombstone's version
// is the stream's last, so what retention moved is known exactly. Retention finds its
// candidates through a partial index holding only closing events (the never-closing Inventory,
// CustomerCredit and OrderSaga rows are not in it), which replaces the created_at index
// nothing else reads. Frozen.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('stream_tombstones')
    .addColumn('aggregate_type', 'text', (c) => c.notNull())
    .addColumn('aggregate_id', 'text', (c) => c.notNull())
    .addColumn('last_version', 'integer', (c) => c.notNull())
    // true: the events are in domain_events_archive; false: they were deleted.
    .addColumn('archived', 'boolean', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('stream_tombstones_pkey', ['aggregate_type', 'aggregate_id'])
    .execute();
  // Retention's sweep looks only at recent tombstones (eventstore/retention.ts, sweepStrays).
  await db.schema
    .createIndex('stream_tombstones_created_at_idx')
    .on('stream_tombstones')
    .column('created_at')
    .execute();
  // Streams archived before tombstones existed get theirs; deleted ones left nothing to go by.
  await sql`
    INSERT INTO stream_tombstones (aggregate_type, aggregate_id, last_version, archived)
    SELECT aggregate_type, aggregate_id, max(version), true FROM domain_events_archive
    GROUP BY aggregate_type, aggregate_id`.execute(db);
  // The predicate is the closing events of activities/retention.activities.ts, spelled out:
  // retention's query repeats them as literals so the planner can prove it may use the index.
  await sql`CREATE INDEX domain_events_closing_idx ON domain_events (created_at)
    WHERE aggregate_type = 'Order' AND event_type IN ('OrderCompleted', 'OrderCancelled')`.execute(
    db,
  );
  await db.schema.dropIndex('domain_events_created_at_idx').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('domain_events_created_at_idx')
    .on('domain_events')
    .column('created_at')
    .execute();
  await db.schema.dropIndex('domain_events_closing_idx').execute();
  await db.schema.dropTable('stream_tombstones').execute();
}
