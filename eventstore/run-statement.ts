// Where the store's hot statements run. On the pool behind a Kysely from createDb they go straight
// to pg, named when a name is given, so Postgres plans them once per connection (planning is
// most of a one-event append's server time); in a transaction, or on a Kysely from elsewhere,
// they go through Kysely.
import { CompiledQuery, type Kysely } from 'kysely';
import type pg from 'pg';

export interface StatementTarget {
  db: Kysely<any>;
  /** The pool behind `db` (absent: `db` is a transaction, or not from createDb). */
  pool?: pg.Pool;
}

export async function runStatement<Row>(
  target: StatementTarget,
  text: string,
  values: unknown[],
  name?: string,
): Promise<Row[]> {
  if (target.pool) return (await target.pool.query<Row & object>({ name, text, values })).rows;
  return (await target.db.executeQuery<Row>(CompiledQuery.raw(text, values))).rows;
}
