// Turns a stored row into a RecordedEvent: decode the payload, then upcast it.
import type { Selectable } from 'kysely';
import type { StoreContext } from './store-context';
import { eventAad, type EncodedPayload } from './codec';
import { toSafeNumber } from './db';
import type { DomainEventsTable } from './schema';
import type { EventMetadata, RecordedEvent } from './types';

/** The payload columns every stored row (event or snapshot) has. */
export interface PayloadColumns {
  codec: string;
  event_data?: unknown;
  event_data_bytes?: Buffer | null;
  key_id: string | null;
}

export const storedPayload = (row: PayloadColumns): EncodedPayload => ({
  codec: row.codec,
  json: row.event_data,
  bytes: row.event_data_bytes ?? null,
  keyId: row.key_id,
});

/** The columns an event's envelope is bound to. */
export interface EventLocationColumns {
  event_id: string;
  event_type: string;
  aggregate_type: string;
  aggregate_id: string;
}

export const rowAad = (row: EventLocationColumns) =>
  eventAad({
    streamType: row.aggregate_type,
    streamId: row.aggregate_id,
    eventType: row.event_type,
    eventId: row.event_id,
  });

/** Decodes an event row's payload (bound to where it is stored) and upcasts it to the newest shape. */
export function decodeStored(
  ctx: Pick<StoreContext, 'codec' | 'upcasters'>,
  row: PayloadColumns & EventLocationColumns & { schema_version: number },
): { schemaVersion: number; data: unknown } {
  const stored = ctx.codec.decode(storedPayload(row), rowAad(row));
  return ctx.upcasters.upcast(row.event_type, row.schema_version, stored);
}

/** `decode` false leaves `data` null (an event type the reader does not use). */
export function toRecordedEvent(
  ctx: Pick<StoreContext, 'codec' | 'upcasters'>,
  row: Selectable<DomainEventsTable>,
  decode = true,
): RecordedEvent {
  const { schemaVersion, data } = decode
    ? decodeStored(ctx, row)
    : { schemaVersion: row.schema_version, data: null };
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
