// Data keys wrapped by the master key (keys/data-key-ring.ts): one current key per purpose,
// one per customer. A forgotten customer's row keeps only its id and when it was destroyed, so
// what the key sealed reads as erased, not as a missing key. Frozen.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE encryption_keys (
      key_id text PRIMARY KEY,
      purpose text NOT NULL CHECK (purpose IN ('event-store', 'temporal', 'customer')),
      customer_id text,
      master_key_id text,
      wrapped_key bytea,
      uses_reserved bigint NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      retired_at timestamptz,
      destroyed_at timestamptz,
      CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL)),
      CHECK ((wrapped_key IS NULL) = (master_key_id IS NULL)),
      CHECK (customer_id IS NULL OR purpose = 'customer'),
      CHECK (purpose <> 'customer' OR destroyed_at IS NOT NULL OR customer_id IS NOT NULL)
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX encryption_keys_current_idx ON encryption_keys (purpose)
    WHERE retired_at IS NULL AND purpose <> 'customer'`.execute(db);
  await sql`CREATE UNIQUE INDEX encryption_keys_customer_idx ON encryption_keys (customer_id)
    WHERE destroyed_at IS NULL`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('encryption_keys').execute();
}
