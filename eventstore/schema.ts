// Kysely table types for the tables this module owns. pg returns int8 as string; the columns
// typed `string` here are parsed on purpose where they are read.
import type { ColumnType, Generated } from 'kysely';

export interface DomainEventsTable {
  global_position: ColumnType<string, never, never>;
  transaction_id: ColumnType<string, never, never>;
  event_id: string;
  aggregate_type: string;
  aggregate_id: string;
  version: number;
  event_type: string;
  schema_version: Generated<number>;
  event_data: unknown;
  event_data_bytes: Buffer | null;
  codec: Generated<string>;
  key_id: string | null;
  metadata: Generated<unknown>;
  created_at: ColumnType<Date, never, never>;
}

export interface AggregateSnapshotsTable {
  aggregate_type: string;
  aggregate_id: string;
  version: number;
  snapshot_version: number;
  /** UpcasterRegistry.chainVersion(aggregate_type) the state was folded under. */
  upcaster_set: Generated<string>;
  snapshot_data: unknown;
  snapshot_data_bytes: Buffer | null;
  codec: Generated<string>;
  key_id: string | null;
  created_at: ColumnType<Date, Date | undefined, Date>;
}

export interface EventStoreTables {
  domain_events: DomainEventsTable;
  domain_events_archive: DomainEventsTable & { archived_at: ColumnType<Date, never, never> };
  aggregate_snapshots: AggregateSnapshotsTable;
}
