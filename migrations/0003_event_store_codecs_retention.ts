// Snapshots get the same payload codecs as events (an encrypted store must not keep aggregate
// state in clear), and retention gets the indexes it scans by. The NOTIFY moves out of the
// append's transaction into the store (eventstore/commit-notifier.ts): inside it, Postgres
// serializes committing appends behind its notify lock. Frozen.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER domain_events_notify ON domain_events`.execute(db);
  await sql`DROP FUNCTION domain_events_notify()`.execute(db);
  await db.schema
    .alterTable('aggregate_snapshots')
    .addColumn('snapshot_data_bytes', 'bytea')
    .addColumn('codec', 'text', (c) => c.notNull().defaultTo('json'))
    .addColumn('key_id', 'text')
    .execute();
  await sql`ALTER TABLE aggregate_snapshots ALTER COLUMN snapshot_data DROP NOT NULL`.execute(db);
  await sql`ALTER TABLE aggregate_snapshots ADD CONSTRAINT aggregate_snapshots_payload_present
    CHECK ((snapshot_data IS NOT NULL) <> (snapshot_data_bytes IS NOT NULL))`.execute(db);
  await db.schema
    .createIndex('aggregate_snapshots_created_at_idx')
    .on('aggregate_snapshots')
    .column('created_at')
    .execute();
  // Archived streams are looked up by stream when an operator restores or audits one.
  await db.schema
    .createIndex('domain_events_archive_stream_idx')
    .on('domain_events_archive')
    .columns(['aggregate_type', 'aggregate_id', 'version'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION domain_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('domain_events', '');
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER domain_events_notify AFTER INSERT ON domain_events
    FOR EACH STATEMENT EXECUTE FUNCTION domain_events_notify()`.execute(db);
  await db.schema.dropIndex('domain_events_archive_stream_idx').execute();
  await db.schema.dropIndex('aggregate_snapshots_created_at_idx').execute();
  await sql`DELETE FROM aggregate_snapshots WHERE snapshot_data IS NULL`.execute(db);
  await sql`ALTER TABLE aggregate_snapshots DROP CONSTRAINT aggregate_snapshots_payload_present`.execute(
    db,
  );
  await sql`ALTER TABLE aggregate_snapshots ALTER COLUMN snapshot_data SET NOT NULL`.execute(db);
  await db.schema
    .alterTable('aggregate_snapshots')
    .dropColumn('snapshot_data_bytes')
    .dropColumn('codec')
    .dropColumn('key_id')
    .execute();
}
