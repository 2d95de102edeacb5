// Transaction ids do not survive a logical dump and restore (pg_dump / pg_restore into another
// cluster): the stored transaction_id values come back above the new server's counter. Old rows
// then stay hidden behind pg_snapshot_xmin and new rows sort before saved checkpoints, silently.
// So every process that opens the store checks first, and refuses with one line on recovery;
// `npm run eventstore -- rebase-transaction-ids` is that recovery.
import { type Kysely, sql } from 'kysely';
import { RestoredDatabaseError } from './errors';
import { logRelation } from './log-sql';

/** Tables holding transaction ids, those that exist (a database not yet migrated has none). */
async function tablesWithTransactionIds(db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    SELECT t.name FROM unnest(ARRAY['domain_events', 'domain_events_archive',
                                    'projection_checkpoints']) AS t(name)
    WHERE to_regclass(t.name) IS NOT NULL`.execute(db);
  return rows.map((r) => r.name);
}

/**
 * Throws RestoredDatabaseError when a stored transaction id is at or above the next one the
 * server will hand out (pg_snapshot_xmax: unlike pg_current_xact_id() it assigns none, so the
 * check also runs on a read replica).
 */
export async function assertTransactionIdsBehindServer(db: Kysely<any>): Promise<void> {
  const tables = await tablesWithTransactionIds(db);
  if (tables.length === 0) return;
  const maxima = tables
    .map((t) => `SELECT max(transaction_id) AS tx FROM ${t}`)
    .join(' UNION ALL ');
  const { rows } = await sql<{ stored: string | null; next: string; ahead: boolean | null }>`
    SELECT max(m.tx)::text AS stored, pg_snapshot_xmax(pg_current_snapshot())::text AS next,
           max(m.tx) >= pg_snapshot_xmax(pg_current_snapshot()) AS ahead
    FROM (${sql.raw(maxima)}) m`.execute(db);
  const row = rows[0];
  if (row?.ahead) throw new RestoredDatabaseError(row.stored ?? '0', row.next);
}

export interface RebaseResult {
  events: number;
  /** Projections whose checkpoint maps exactly onto the new order (they carry on). */
  kept: string[];
  /** Projections that must be rebuilt (marked failed, saying so). */
  toRebuild: string[];
}

/**
 * Recovery after a logical restore: every stored event is committed and old, so its
 * transaction id can become 0 and the log is then read in global_position order (which within
 * a stream is version order). A projection whose checkpoint covers exactly the events at or
 * below its position keeps it; any other is marked failed, to be rebuilt. One transaction,
 * with writers held off.
 */
export async function rebaseTransactionIds(db: Kysely<any>): Promise<RebaseResult> {
  return db.transaction().execute(async (trx) => {
    await sql`LOCK TABLE domain_events, domain_events_archive, projection_checkpoints
              IN SHARE ROW EXCLUSIVE MODE`.execute(trx);
    const { rows: checkpoints } = await sql<{ name: string; exact: boolean }>`
      SELECT c.name, NOT EXISTS (
        SELECT 1 FROM ${sql.raw(logRelation('e', ['transaction_id', 'global_position']))}
        WHERE ((e.transaction_id, e.global_position) <= (c.transaction_id, c.global_position))
              <> (e.global_position <= c.global_position)) AS exact
      FROM projection_checkpoints c`.execute(trx);
    const moved = await sql`UPDATE domain_events SET transaction_id = '0'::xid8
                            WHERE transaction_id <> '0'::xid8`.execute(trx);
    const archived = await sql`UPDATE domain_events_archive SET transaction_id = '0'::xid8
                               WHERE transaction_id <> '0'::xid8`.execute(trx);
    const kept = checkpoints.filter((c) => c.exact).map((c) => c.name);
    const toRebuild = checkpoints.filter((c) => !c.exact).map((c) => c.name);
    await sql`UPDATE projection_checkpoints SET transaction_id = '0'::xid8, updated_at = now()
              WHERE name = ANY(${kept})`.execute(trx);
    await sql`UPDATE projection_checkpoints
              SET transaction_id = '0'::xid8, global_position = 0, status = 'failed',
                  last_error = 'transaction ids were rebased after a restore: rebuild this projection',
                  updated_at = now()
              WHERE name = ANY(${toRebuild})`.execute(trx);
    return {
      events: Number(moved.numAffectedRows ?? 0) + Number(archived.numAffectedRows ?? 0),
      kept,
      toRebuild,
    };
  });
}
