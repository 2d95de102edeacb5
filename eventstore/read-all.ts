// Reads the global log after a checkpoint without ever skipping an event. Identity values are
// handed out before commit, so a row with a smaller global_position can become visible after a
// larger one. Reading only rows whose transaction is older than every transaction still in
// progress (pg_snapshot_xmin), ordered by (transaction_id, global_position), makes the order
// of visibility the order of reading.
import { sql } from 'kysely';
import type { AppendContext } from './append-to-stream';
import { toRecordedEvent } from './recorded-event';
import type { Checkpoint, RecordedEvent } from './types';

export interface ReadAllResult {
  events: RecordedEvent[];
  /** The position after the last event returned (the input checkpoint when none). */
  checkpoint: Checkpoint;
}

export async function readAllFrom(
  ctx: AppendContext,
  after: Checkpoint,
  limit = 1000,
): Promise<ReadAllResult> {
  const rows = await ctx.db
    .selectFrom('domain_events')
    .selectAll()
    .where(
      sql<boolean>`(transaction_id, global_position) > (${after.transactionId}::xid8, ${after.globalPosition}::bigint)`,
    )
    .where(sql<boolean>`transaction_id < pg_snapshot_xmin(pg_current_snapshot())`)
    .orderBy('transaction_id')
    .orderBy('global_position')
    .limit(limit)
    .execute();
  const events = rows.map((row) => toRecordedEvent(ctx, row));
  const last = events[events.length - 1];
  return {
    events,
    checkpoint: last
      ? { transactionId: last.transactionId, globalPosition: last.globalPosition }
      : after,
  };
}
