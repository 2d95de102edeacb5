// Retention of the event log: streams that are closed (their last event is a
// closing event such as OrderCompleted) and quiet for longer than the limit move to
// domain_events_archive (or are deleted when archiving is off), with their snapshots, once every
// projection has read them (projection_checkpoints). A live stream is never touched, so
// retention never changes what a live stream loads; readers walk the archive and the live table
// as one log (log-sql.ts), so a rebuild after retention sees every event.
import { sql } from 'kysely';
import type { AppendContext } from './append-to-stream';

export interface ArchiveOptions {
  /** Streams whose last event is older than this many days. */
  olderThanDays: number;
  /** Closing event types per aggregate type, e.g. { Order: ['OrderCompleted', 'OrderCancelled'] }. */
  closingEvents: Record<string, readonly string[]>;
  /** false: delete instead of moving to domain_events_archive. */
  archive: boolean;
  /** Streams per transaction (default 500). */
  batchSize?: number;
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

export async function archiveClosedStreams(
  ctx: AppendContext,
  options: ArchiveOptions,
): Promise<ArchiveResult> {
  const closers = Object.entries(options.closingEvents).flatMap(([type, events]) =>
    events.map((event) => sql`(${type}, ${event})`),
  );
  const total: ArchiveResult = { streams: 0, events: 0 };
  if (closers.length === 0) return total;
  const batchSize = options.batchSize ?? 500;

  for (let batches = 1; ; batches += 1) {
    options.signal?.throwIfAborted();
    const batch = await ctx.db.transaction().execute(async (trx) => {
      // Appends take no lock, so one committing between our read and our delete would leave a
      // stray event behind an archived stream. This lock waits for in-flight appends and holds
      // new ones for the batch (milliseconds); readers are not blocked.
      await sql`SET LOCAL lock_timeout = '10s'`.execute(trx);
      await sql`LOCK TABLE domain_events IN SHARE ROW EXCLUSIVE MODE`.execute(trx);
      const { rows } = await sql<{ streams: string; events: string }>`
        WITH closed AS MATERIALIZED (
          SELECT e.aggregate_type, e.aggregate_id
          FROM domain_events e
          WHERE (e.aggregate_type, e.event_type) IN (VALUES ${sql.join(closers)})
            AND e.created_at < now() - make_interval(days => ${options.olderThanDays})
            AND NOT EXISTS (
              SELECT 1 FROM domain_events later
              WHERE later.aggregate_type = e.aggregate_type
                AND later.aggregate_id = e.aggregate_id
                AND later.version > e.version)
            -- Only what every projection has read: one that is failed or behind still needs
            -- the stream in the live table (and, when archiving is off, at all).
            AND NOT EXISTS (
              SELECT 1 FROM domain_events unread, projection_checkpoints c
              WHERE unread.aggregate_type = e.aggregate_type
                AND unread.aggregate_id = e.aggregate_id
                AND (unread.transaction_id, unread.global_position)
                    > (c.transaction_id, c.global_position))
          LIMIT ${batchSize}
        ),
        moved AS (
          DELETE FROM domain_events d USING closed c
          WHERE d.aggregate_type = c.aggregate_type AND d.aggregate_id = c.aggregate_id
          RETURNING d.*
        ),
        archived AS (
          INSERT INTO domain_events_archive (${COLUMNS})
          SELECT ${COLUMNS} FROM moved WHERE ${options.archive}
        ),
        snapshots AS (
          DELETE FROM aggregate_snapshots s USING closed c
          WHERE s.aggregate_type = c.aggregate_type AND s.aggregate_id = c.aggregate_id
        )
        SELECT (SELECT count(*) FROM closed) AS streams, (SELECT count(*) FROM moved) AS events`.execute(
        trx,
      );
      return { streams: Number(rows[0]?.streams ?? 0), events: Number(rows[0]?.events ?? 0) };
    });
    total.streams += batch.streams;
    total.events += batch.events;
    options.onBatch?.({ ...total, batches });
    if (batch.streams < batchSize) return total;
  }
}
