// Turns a domain_events row into a RecordedEvent: decode the payload, then upcast it.
import type { Selectable } from 'kysely';
import type { AppendContext } from './append-to-stream';
import { toSafeNumber } from './db';
import type { DomainEventsTable } from './schema';
import type { EventMetadata, RecordedEvent } from './types';

export function toRecordedEvent(
  ctx: Pick<AppendContext, 'codec' | 'upcasters'>,
  row: Selectable<DomainEventsTable>,
): RecordedEvent {
  const stored = ctx.codec.decode(
    {
      codec: row.codec,
      json: row.event_data,
      bytes: row.event_data_bytes,
      keyId: row.key_id,
    },
    row.event_id,
  );
  const { schemaVersion, data } = ctx.upcasters.upcast(row.event_type, row.schema_version, stored);
  return {
    globalPosition: toSafeNumber(row.global_position, 'global_position'),
    transactionId: String(row.transaction_id),
    eventId: row.event_id,
    streamType: row.aggregate_type,
    streamId: row.aggregate_id,
    version: row.version,
    type: row.event_type,
    schemaVersion,
    data,
    metadata: (row.metadata ?? {}) as EventMetadata,
    createdAt: row.created_at,
  };
}
