// Reads what an aggregate loads from in one round trip: its newest snapshot of the wanted shape
// and the stream's events after it (all of them when there is no snapshot). This runs before
// every command, so it is one named statement, planned once per connection.
import type { StoreContext } from './store-context';
import { toSafeNumber } from './db';
import type { AggregateRead } from './event-store';
import { logRelation } from './log-sql';
import { storedPayload, toRecordedEvent } from './recorded-event';
import { runStatement } from './run-statement';
import { snapshotAad, type Snapshot } from './snapshots';
import type { StreamName } from './types';

const READ_AGGREGATE_SQL = `
  WITH snap AS (
    SELECT version, snapshot_data, snapshot_data_bytes, codec, key_id
    FROM aggregate_snapshots
    WHERE $3::int > 0 AND aggregate_type = $1 AND aggregate_id = $2 AND snapshot_version = $3
      AND upcaster_set = $4
    ORDER BY version DESC
    LIMIT 1
  )
  SELECT 0 AS part,
         (SELECT s.global_position FROM ${logRelation('s')}
          WHERE s.aggregate_type = $1 AND s.aggregate_id = $2 AND s.version = snap.version)
           AS global_position,
         NULL::xid8 AS transaction_id,
         NULL::uuid AS event_id, $1 AS aggregate_type, $2 AS aggregate_id, version,
         NULL AS event_type, NULL::int AS schema_version, snapshot_data AS event_data,
         snapshot_data_bytes AS event_data_bytes, codec, key_id, NULL::jsonb AS metadata,
         NULL::timestamptz AS created_at
  FROM snap
  UNION ALL
  SELECT 1, global_position, transaction_id, event_id, aggregate_type, aggregate_id, version,
         event_type, schema_version, event_data, event_data_bytes, codec, key_id, metadata,
         created_at
  FROM ${logRelation('e')}
  WHERE e.aggregate_type = $1 AND e.aggregate_id = $2
    AND e.version > coalesce((SELECT version FROM snap), 0)
  ORDER BY part, version`;

type Row = Parameters<typeof toRecordedEvent>[1] & { part: number };

/** `snapshotVersion` 0 reads no snapshot (snapshots off). */
export async function readAggregate(
  ctx: StoreContext,
  stream: StreamName,
  snapshotVersion: number,
): Promise<AggregateRead> {
  const values = [stream.type, stream.id, snapshotVersion, ctx.upcasters.chainVersion(stream.type)];
  const rows = await runStatement<Row>(ctx, READ_AGGREGATE_SQL, values, 'es_read_aggregate_v2');

  const first = rows[0];
  let snapshot: Snapshot | undefined;
  let snapshotPosition: number | undefined;
  if (first && first.part === 0) {
    snapshotPosition =
      first.global_position === null
        ? undefined
        : toSafeNumber(first.global_position, 'global_position');
    const state = ctx.codec.decode(storedPayload(first), snapshotAad(stream, first.version));
    snapshot = { version: first.version, state };
  }
  const events = (snapshot ? rows.slice(1) : rows).map((row) => toRecordedEvent(ctx, row));
  const lastPosition = events[events.length - 1]?.globalPosition ?? snapshotPosition;
  return { snapshot, events, lastPosition };
}
