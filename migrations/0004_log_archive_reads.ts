// The archive becomes part of the log every reader walks (eventstore/log-sql.ts): it gets the
// (transaction_id, global_position) index the live table has, so a read after a checkpoint
// merges two index scans. Snapshots record the upcaster set they were folded under: one folded
// under other upcasters is ignored like one of another shape. Frozen.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX domain_events_archive_checkpoint_idx
    ON domain_events_archive (transaction_id, global_position)`.execute(db);
  await db.schema
    .alterTable('aggregate_snapshots')
    .addColumn('upcaster_set', 'text', (c) => c.notNull().defaultTo(''))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('aggregate_snapshots').dropColumn('upcaster_set').execute();
  await db.schema.dropIndex('domain_events_archive_checkpoint_idx').execute();
}
