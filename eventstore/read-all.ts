// Reads the global log after a checkpoint without ever skipping an event. Identity values are
// handed out before commit, so a row with a smaller global_position can become visible after a
// larger one. Reading only rows whose transaction is older than every transaction still in
// progress (pg_snapshot_xmin), ordered by (transaction_id, global_position), makes the order
// of visibility the order of reading. Archived events are part of the log (log-sql.ts).
import { CompiledQuery, type Selectable } from 'kysely';
import type { AppendContext } from './append-to-stream';
import { logOrder, logRelation, visibleAfter } from './log-sql';
import { toRecordedEvent } from './recorded-event';
import type { DomainEventsTable } from './schema';
import type { Checkpoint, RecordedEvent } from './types';

export interface ReadAllResult {
  events: RecordedEvent[];
  /** The position after the last event returned (the input checkpoint when none). */
  checkpoint: Checkpoint;
}

const READ_ALL_SQL = `
  SELECT e.* FROM ${logRelation('e')}
  WHERE ${visibleAfter('e', '$1', '$2')}
  ORDER BY ${logOrder('e')}
  LIMIT $3`;

export async function readAllFrom(
  ctx: AppendContext,
  after: Checkpoint,
  limit = 1000,
): Promise<ReadAllResult> {
  const { rows } = await ctx.db.executeQuery<Selectable<DomainEventsTable>>(
    CompiledQuery.raw(READ_ALL_SQL, [after.transactionId, after.globalPosition, limit]),
  );
  const events = rows.map((row) => toRecordedEvent(ctx, row));
  const last = events[events.length - 1];
  return {
    events,
    checkpoint: last
      ? { transactionId: last.transactionId, globalPosition: last.globalPosition }
      : after,
  };
}
