// Reads one stream in version order, decoded and upcast: its live and archived events alike.
import { CompiledQuery, type Selectable } from 'kysely';
import type { StoreContext } from './store-context';
import { logRelation } from './log-sql';
import { toRecordedEvent } from './recorded-event';
import type { DomainEventsTable } from './schema';
import type { RecordedEvent, StreamName } from './types';

const READ_STREAM_SQL = `
  SELECT e.* FROM ${logRelation('e')}
  WHERE e.aggregate_type = $1 AND e.aggregate_id = $2 AND e.version >= $3
  ORDER BY e.version`;

export async function readStream(
  ctx: StoreContext,
  stream: StreamName,
  fromVersion = 1,
): Promise<RecordedEvent[]> {
  const { rows } = await ctx.db.executeQuery<Selectable<DomainEventsTable>>(
    CompiledQuery.raw(READ_STREAM_SQL, [stream.type, stream.id, fromVersion]),
  );
  return rows.map((row) => toRecordedEvent(ctx, row));
}
