// Transaction ids do not survive a logical dump and restore (pg_dump / pg_restore into another
// cluster, or a major-version upgrade by logical replication): the stored transaction_id values
// come back above the new server's counter. Old rows then stay hidden behind pg_snapshot_xmin
// and new rows sort before saved checkpoints, silently. So every process that opens the store
// checks first, and refuses with one line on recovery, unless a rebase is under way;
// `npm run eventstore -- rebase-transaction-ids` is that recovery, and appends and reads go on
// while it runs.
import { type Kysely, sql } from 'kysely';
import { RestoredDatabaseError } from './errors';
import { logRelation } from './log-sql';

/** The rebase under way, if any (created here too: a restored database may predate 0006). */
const REBASE_TABLE_SQL = sql`
  CREATE TABLE IF NOT EXISTS event_log_rebase (
    guard_xid xid8 PRIMARY KEY,
    up_to_position bigint NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now())`;

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
  if (row?.ahead && !(await rebaseUnderWay(db)))
    throw new RestoredDatabaseError(row.stored ?? '0', row.next);
}

/** A rebase whose guard transaction is still open (one that died left an aborted guard). */
async function rebaseUnderWay(db: Kysely<any>): Promise<boolean> {
  const { rows } = await sql<{ live: boolean }>`
    SELECT EXISTS (SELECT 1 FROM event_log_rebase
                   WHERE pg_xact_status(guard_xid) = 'in progress') AS live
    WHERE to_regclass('event_log_rebase') IS NOT NULL`.execute(db);
  return rows[0]?.live ?? false;
}

export interface RebaseResult {
  events: number;
  /** Projections whose checkpoint maps exactly onto the new order (they carry on). */
  kept: string[];
  /** Projections that must be rebuilt (marked failed, saying so). */
  toRebuild: string[];
}

export interface RebaseOptions {
  /** Positions per batch transaction (default 50,000). */
  batchPositions?: number;
  /** After each committed batch, with the events rebased so far. */
  onBatch?: (events: number) => void;
}

/**
 * Recovery after a logical restore: every stored event is committed and old, so its
 * transaction id can become 0 and the restored log is then read in global_position order
 * (which within a stream is version order). A projection whose checkpoint covers exactly the
 * events at or below its position keeps it; any other is marked failed, to be rebuilt.
 *
 * In batches of positions, each its own short transaction, with no table lock: appends and
 * reads go on. What keeps reads gap-free is a guard transaction held open from start to end:
 * its transaction id holds pg_snapshot_xmin, so every event appended during the rebase stays
 * unreadable until the restored log before it is rebased (rows not yet rebased are unreadable
 * too, their ids being ahead of the server), and readers only ever see a position-prefix of the
 * restored log. The guard also tells starting processes (assertTransactionIdsBehindServer) that
 * the rebase is under way. A rebase that dies ends its guard; running it again goes on.
 */
export async function rebaseTransactionIds(
  db: Kysely<any>,
  options: RebaseOptions = {},
): Promise<RebaseResult> {
  const step = options.batchPositions ?? 50_000;
  await REBASE_TABLE_SQL.execute(db);
  return db.connection().execute(async (guard) => {
    await sql`BEGIN`.execute(guard);
    try {
      const { rows: g } = await sql<{ xid: string }>`
        SELECT pg_current_xact_id()::text AS xid`.execute(guard);
      const guardXid = g[0]!.xid;
      // Nothing appends before the marker is committed (processes refuse to start), so this is
      // the end of the restored log; a process's append after it gets a higher position.
      const { rows: top } = await sql<{ max: string | null }>`
        SELECT max(global_position)::text AS max FROM ${sql.raw(logRelation('e', ['global_position']))}`.execute(
        db,
      );
      const upTo = Number(top[0]?.max ?? 0);
      const { rows: checkpoints } = await sql<{ name: string; exact: boolean }>`
        SELECT c.name, NOT EXISTS (
          SELECT 1 FROM ${sql.raw(logRelation('e', ['transaction_id', 'global_position']))}
          WHERE e.global_position <= ${upTo}
            AND ((e.transaction_id, e.global_position) <= (c.transaction_id, c.global_position))
                <> (e.global_position <= c.global_position)) AS exact
        FROM projection_checkpoints c`.execute(db);
      // Restored rows whose ids happen to be behind this server are readable out of turn: they
      // are hidden with the rest (at the highest restored id) before anything may read.
      const { rows: ahead } = await sql<{ max: string | null }>`
        SELECT max(m.tx)::text AS max FROM (
          SELECT max(transaction_id) AS tx FROM domain_events
          UNION ALL SELECT max(transaction_id) FROM domain_events_archive) m
        WHERE m.tx >= pg_snapshot_xmax(pg_current_snapshot())`.execute(db);
      const hideAt = ahead[0]?.max;
      // Not restored: nothing is behind its readers, nothing to rebase.
      if (!hideAt) return { events: 0, kept: checkpoints.map((c) => c.name), toRebuild: [] };
      for (const table of ['domain_events', 'domain_events_archive'])
        await sql`UPDATE ${sql.table(table)} SET transaction_id = ${hideAt}::xid8
          WHERE transaction_id <> '0'::xid8
            AND transaction_id < pg_snapshot_xmax(pg_current_snapshot())`.execute(db);
      await sql`INSERT INTO event_log_rebase (guard_xid, up_to_position)
                VALUES (${guardXid}::xid8, ${upTo})`.execute(db);

      let events = 0;
      for (let lo = 0; lo < upTo; lo += step) {
        const hi = Math.min(upTo, lo + step);
        events += await db.transaction().execute(async (trx) => {
          let n = 0;
          for (const table of ['domain_events', 'domain_events_archive']) {
            const r = await sql`UPDATE ${sql.table(table)} SET transaction_id = '0'::xid8
              WHERE global_position > ${lo} AND global_position <= ${hi}
                AND transaction_id <> '0'::xid8`.execute(trx);
            n += Number(r.numAffectedRows ?? 0);
          }
          return n;
        });
        options.onBatch?.(events);
      }

      const kept = checkpoints.filter((c) => c.exact).map((c) => c.name);
      const toRebuild = checkpoints.filter((c) => !c.exact).map((c) => c.name);
      await db.transaction().execute(async (trx) => {
        await sql`UPDATE projection_checkpoints SET transaction_id = '0'::xid8, updated_at = now()
                  WHERE name = ANY(${kept})`.execute(trx);
        await sql`UPDATE projection_checkpoints
                  SET transaction_id = '0'::xid8, global_position = 0, status = 'failed',
                      last_error = 'transaction ids were rebased after a restore: rebuild this projection',
                      updated_at = now()
                  WHERE name = ANY(${toRebuild})`.execute(trx);
        await sql`DELETE FROM event_log_rebase`.execute(trx);
      });
      return { events, kept, toRebuild };
    } finally {
      // Ends the guard: what was appended during the rebase becomes readable, after the log.
      await sql`ROLLBACK`.execute(guard);
    }
  });
}
