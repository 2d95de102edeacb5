// The event store's tables. Frozen: later changes go in new migrations.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('domain_events')
    .addColumn('global_position', 'bigint', (c) => c.generatedAlwaysAsIdentity().primaryKey())
    .addColumn('transaction_id', sql`xid8`, (c) => c.notNull().defaultTo(sql`pg_current_xact_id()`))
    .addColumn('event_id', 'uuid', (c) => c.notNull().unique())
    .addColumn('aggregate_type', 'text', (c) => c.notNull())
    .addColumn('aggregate_id', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull().check(sql`version >= 1`))
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('schema_version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('event_data', 'jsonb')
    // Compressed or encrypted payloads live here instead of event_data; codec says which.
    .addColumn('event_data_bytes', 'bytea')
    .addColumn('codec', 'text', (c) => c.notNull().defaultTo('json'))
    .addColumn('key_id', 'text')
    .addColumn('metadata', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('domain_events_stream_version_key', [
      'aggregate_type',
      'aggregate_id',
      'version',
    ])
    .addCheckConstraint(
      'domain_events_payload_present',
      sql`(event_data IS NOT NULL) <> (event_data_bytes IS NOT NULL)`,
    )
    .execute();
  // Readers of the global log walk (transaction_id, global_position).
  await sql`CREATE INDEX domain_events_checkpoint_idx ON domain_events (transaction_id, global_position)`.execute(
    db,
  );
  await db.schema
    .createIndex('domain_events_event_type_idx')
    .on('domain_events')
    .column('event_type')
    .execute();
  await db.schema
    .createIndex('domain_events_created_at_idx')
    .on('domain_events')
    .column('created_at')
    .execute();

  // Wake projection runners on commit; NOTIFY is delivered at commit and coalesced per transaction.
  await sql`
    CREATE FUNCTION domain_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('domain_events', '');
      RETURN NULL;
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER domain_events_notify AFTER INSERT ON domain_events
    FOR EACH STATEMENT EXECUTE FUNCTION domain_events_notify()`.execute(db);

  await db.schema
    .createTable('aggregate_snapshots')
    .addColumn('aggregate_type', 'text', (c) => c.notNull())
    .addColumn('aggregate_id', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('snapshot_version', 'integer', (c) => c.notNull())
    .addColumn('snapshot_data', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('aggregate_snapshots_pkey', [
      'aggregate_type',
      'aggregate_id',
      'version',
    ])
    .execute();

  // Same shape as domain_events, without the identity and the trigger: rows keep their positions.
  await sql`CREATE TABLE domain_events_archive (LIKE domain_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`.execute(
    db,
  );
  await sql`ALTER TABLE domain_events_archive ADD COLUMN archived_at timestamptz NOT NULL DEFAULT now()`.execute(
    db,
  );
  await sql`CREATE UNIQUE INDEX domain_events_archive_event_id_key ON domain_events_archive (event_id)`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('domain_events_archive').execute();
  await db.schema.dropTable('aggregate_snapshots').execute();
  await db.schema.dropTable('domain_events').execute();
  await sql`DROP FUNCTION domain_events_notify()`.execute(db);
}
