// A rebase of transaction ids after a logical restore runs in batches while the store is in
// use (eventstore/restore-check.ts): event_log_rebase marks one under way, and the archive gets
// the position index the batches walk (the live table has its primary key). The rebase creates
// its table itself too, on a restored database that predates this migration. Frozen.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS event_log_rebase (
    guard_xid xid8 PRIMARY KEY,
    up_to_position bigint NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now())`.execute(db);
  await sql`CREATE INDEX domain_events_archive_position_idx
    ON domain_events_archive (global_position)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('domain_events_archive_position_idx').execute();
  await db.schema.dropTable('event_log_rebase').execute();
}
