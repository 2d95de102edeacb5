// Reads one stream in version order, decoded and upcast.
import type { AppendContext } from './append-to-stream';
import { toRecordedEvent } from './recorded-event';
import type { RecordedEvent, StreamName } from './types';

export async function readStream(
  ctx: AppendContext,
  stream: StreamName,
  fromVersion = 1,
): Promise<RecordedEvent[]> {
  const rows = await ctx.db
    .selectFrom('domain_events')
    .selectAll()
    .where('aggregate_type', '=', stream.type)
    .where('aggregate_id', '=', stream.id)
    .where('version', '>=', fromVersion)
    .orderBy('version')
    .execute();
  return rows.map((row) => toRecordedEvent(ctx, row));
}
