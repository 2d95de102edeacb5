// Retention of the event log: streams that are closed (their last event is a closing event
// such as OrderCompleted) and quiet for longer than the limit move to domain_events_archive (or
// are deleted when archiving is off), with their snapshots, once every projection has read them
// (projection_checkpoints). Each leaves a tombstone (stream_tombstones) that appends refuse, so
// an id is never written again. A live stream is never touched, so retention never changes what
// a live stream loads; readers walk the archive and the live table as one log (log-sql.ts), and
// rows move with their transaction ids and positions in one transaction, so a reader sees each
// event exactly once, in the live table or the archive, and a rebuild after retention sees every
// event.
//
// No table lock: appends to other streams never wait for retention. A batch locks only the rows
// it moves. The one append it can race is one to a stream it is closing whose statement began
// before the batch committed (later ones see the tombstone and are refused): that event commits
// in the live table, where every reader still sees it, and the next batch (or run) sweeps it
// after its stream (sweepStrays).
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { StoreContext } from './store-context';

export interface ArchiveOptions {
  /** Streams whose last event is older than this many days. */
  olderThanDays: number;
  /** Closing event types per aggregate type, e.g. { Order: ['OrderCompleted', 'OrderCancelled'] }. */
  closingEvents: Record<string, readonly string[]>;
  /** false: delete instead of moving to domain_events_archive. */
  archive: boolean;
  /** Streams in the first transaction (default 500); later batches are sized by batchMillis. */
  batchSize?: number;
  /** How long one batch's transaction should take (default 100 ms): the size adapts to it. */
  batchMillis?: number;
  /**
   * Rest after each batch (default: as long as the batch took). A batch's WAL delays the commits
   * of the appends beside it; resting leaves them the disk half the time.
   */
  pauseMillis?: number;
  /** Called after each committed batch with the running totals (e.g. an activity heartbeat). */
  onBatch?: (progress: ArchiveResult & { batches: number }) => void;
  /** Checked before each batch: an abort stops between batches, never inside one. */
  signal?: AbortSignal;
}

export interface ArchiveResult {
  streams: number;
  events: number;
}

const COLUMNS = sql.raw(
  'global_position, transaction_id, event_id, aggregate_type, aggregate_id, version, event_type, ' +
    'schema_version, event_data, event_data_bytes, codec, key_id, metadata, created_at',
);

const MIN_BATCH = 10;
const MAX_BATCH = 20_000;
/** Tombstones this recent are checked for events that raced their batch. */
const STRAY_WINDOW = sql`interval '2 days'`;

/**
 * Candidates: closing events (literal types, so the planner can prove the partial index
 * domain_events_closing_idx of migration 0005 applies) that are their stream's last event and
 * that every projection has read (the stream's last event read means all of it is: a stream's
 * events are in log order). SKIP LOCKED: two runs never take the same stream.
 */
function candidatesSql(
  closingEvents: Record<string, readonly string[]>,
  olderThanDays: number,
  limit: number,
): RawBuilder<unknown> {
  const branches = Object.entries(closingEvents)
    .filter(([, events]) => events.length > 0)
    .map(
      ([type, events], i) => sql`
        SELECT * FROM (SELECT e.aggregate_type, e.aggregate_id, e.version, e.created_at FROM domain_events e
         WHERE e.aggregate_type = ${sql.lit(type)}
           AND e.event_type IN (${sql.join(events.map((ev) => sql.lit(ev)))})
           AND e.created_at < now() - make_interval(days => ${olderThanDays})
           AND NOT EXISTS (
             SELECT 1 FROM domain_events later
             WHERE later.aggregate_type = e.aggregate_type
               AND later.aggregate_id = e.aggregate_id AND later.version > e.version)
           AND NOT EXISTS (
             SELECT 1 FROM projection_checkpoints c
             WHERE (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position))
         ORDER BY e.created_at
         LIMIT ${limit}
         FOR UPDATE OF e SKIP LOCKED) ${sql.raw(`closing_${i}`)}`,
    );
  return sql.join(branches, sql` UNION ALL `);
}

/** Moves (or deletes) the given streams' rows up to the tombstone's version, in one statement. */
function moveSql(candidates: RawBuilder<unknown>, archive: boolean): RawBuilder<unknown> {
  return sql`
    WITH closed AS MATERIALIZED (${candidates}),
    tombstoned AS (
      INSERT INTO stream_tombstones (aggregate_type, aggregate_id, last_version, archived)
      SELECT aggregate_type, aggregate_id, version, ${archive} FROM closed
      ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
        SET last_version = greatest(stream_tombstones.last_version, excluded.last_version)
    ),
    moved AS (
      DELETE FROM domain_events d USING closed c
      WHERE d.aggregate_type = c.aggregate_type AND d.aggregate_id = c.aggregate_id
        AND d.version <= c.version
      RETURNING d.*
    ),
    archived AS (
      INSERT INTO domain_events_archive (${COLUMNS})
      SELECT ${COLUMNS} FROM moved WHERE ${archive}
    ),
    snapshots AS (
      DELETE FROM aggregate_snapshots s USING closed c
      WHERE s.aggregate_type = c.aggregate_type AND s.aggregate_id = c.aggregate_id
    )
    SELECT (SELECT count(*) FROM closed) AS streams, (SELECT count(*) FROM moved) AS events`;
}

type Db = Kysely<any>;

async function runBatch(db: Db, query: RawBuilder<unknown>): Promise<ArchiveResult> {
  const { rows } = await (query as RawBuilder<{ streams: string; events: string }>).execute(db);
  return { streams: Number(rows[0]?.streams ?? 0), events: Number(rows[0]?.events ?? 0) };
}

/**
 * Events that committed to a stream after its tombstone (an append that began before the
 * batch committed): moved after their stream the same way, the tombstone raised to them. Only
 * recent tombstones are looked at; each is one probe of the stream index.
 */
export async function sweepStrays(db: Db, archive: boolean): Promise<ArchiveResult> {
  return runBatch(
    db,
    moveSql(
      sql`SELECT e.aggregate_type, e.aggregate_id, max(e.version) AS version,
                 max(e.created_at) AS created_at
          FROM stream_tombstones t
          JOIN domain_events e
            ON e.aggregate_type = t.aggregate_type AND e.aggregate_id = t.aggregate_id
          WHERE t.created_at > now() - ${STRAY_WINDOW}
            AND NOT EXISTS (
              SELECT 1 FROM projection_checkpoints c
              WHERE (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position))
          GROUP BY e.aggregate_type, e.aggregate_id`,
      archive,
    ),
  );
}

/**
 * Fresh planner statistics for the tables retention fills. An append's statement is prepared
 * once per connection and, after five executions, runs a generic plan that nothing replaces
 * until the tables it reads are analyzed. Planned while the archive was empty, that plan checks
 * the archive's event ids by a sequential scan, so every append grew slower with each batch
 * (20-44 ms instead of under 1 ms after 92k archived events, measured with autovacuum off; with
 * it on, the same until its next analyze). ANALYZE invalidates those plans in every session and
 * takes no lock that appends or batches wait for.
 */
async function refreshStatistics(db: Db, archive: boolean): Promise<void> {
  await sql.raw(`ANALYZE ${archive ? 'domain_events_archive, ' : ''}stream_tombstones`).execute(db);
}

export async function archiveClosedStreams(
  ctx: StoreContext,
  options: ArchiveOptions,
): Promise<ArchiveResult> {
  const total: ArchiveResult = { streams: 0, events: 0 };
  if (Object.values(options.closingEvents).every((events) => events.length === 0)) return total;
  const targetMs = options.batchMillis ?? 100;
  let size = Math.min(MAX_BATCH, Math.max(1, options.batchSize ?? 500));

  const add = (r: ArchiveResult) => {
    total.streams += r.streams;
    total.events += r.events;
  };
  add(await sweepStrays(ctx.db, options.archive));
  // How many streams had moved when the statistics were last refreshed (undefined: not yet).
  let analyzedAt: number | undefined;
  for (let batches = 1; ; batches += 1) {
    options.signal?.throwIfAborted();
    const started = performance.now();
    const batch = await ctx.db.transaction().execute(async (trx) => {
      // Row locks only: a batch never waits long on anything, and never holds up an append.
      await sql`SET LOCAL lock_timeout = '10s'`.execute(trx);
      return runBatch(
        trx,
        moveSql(candidatesSql(options.closingEvents, options.olderThanDays, size), options.archive),
      );
    });
    add(batch);
    // After the first batch the tables are no longer the (possibly empty) ones appends planned
    // against; once more at the end, for the readers that plan after the run.
    if (batch.streams > 0 && analyzedAt === undefined) {
      await refreshStatistics(ctx.db, options.archive);
      analyzedAt = total.streams;
    }
    options.onBatch?.({ ...total, batches });
    if (batch.streams < size) {
      // Appends that raced the last batches have committed by now (appends are one statement).
      add(await sweepStrays(ctx.db, options.archive));
      if (total.streams > (analyzedAt ?? 0)) await refreshStatistics(ctx.db, options.archive);
      return total;
    }
    // The next batch aims at batchMillis: at most twice as many streams, never below MIN_BATCH.
    const elapsed = Math.max(1, performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, options.pauseMillis ?? elapsed));
    size = Math.round(
      Math.min(MAX_BATCH, size * 2, Math.max(MIN_BATCH, (size * targetMs) / elapsed)),
    );
  }
}
