// Events a projection could not fold, set aside so the projection goes on. Frozen.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE projection_dead_letters (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      projection text NOT NULL,
      global_position bigint NOT NULL,
      transaction_id xid8 NOT NULL,
      event_id uuid NOT NULL,
      event_type text NOT NULL,
      aggregate_type text NOT NULL,
      aggregate_id text NOT NULL,
      version integer NOT NULL,
      attempts integer NOT NULL,
      error text NOT NULL,
      status text NOT NULL DEFAULT 'parked' CHECK (status IN ('parked', 'retried', 'skipped')),
      created_at timestamptz NOT NULL DEFAULT now(),
      resolved_at timestamptz,
      UNIQUE (projection, event_id)
    )`.execute(db);
  await sql`CREATE INDEX projection_dead_letters_parked_idx
    ON projection_dead_letters (projection) WHERE status = 'parked'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('projection_dead_letters').execute();
}
