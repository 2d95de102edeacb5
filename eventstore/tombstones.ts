// Tombstones: a stream that retention archived or deleted leaves a row in stream_tombstones
// (migration 0005), and appends refuse that stream (StreamTombstonedError). This is the
// store-level guarantee that an id is never reused; callers may ask first to refuse earlier.
import { type Kysely, sql } from 'kysely';
import type { StreamName } from './types';

export interface StreamTombstone {
  /** The stream's last version when retention closed it. */
  lastVersion: number;
  /** true: its events are in domain_events_archive; false: they were deleted. */
  archived: boolean;
  createdAt: Date;
}

/** The stream's tombstone, or undefined when it was never archived or deleted. */
export async function streamTombstoned(
  db: Kysely<any>,
  stream: StreamName,
): Promise<StreamTombstone | undefined> {
  const { rows } = await sql<{ last_version: number; archived: boolean; created_at: Date }>`
    SELECT last_version, archived, created_at FROM stream_tombstones
    WHERE aggregate_type = ${stream.type} AND aggregate_id = ${stream.id}`.execute(db);
  const row = rows[0];
  return row
    ? { lastVersion: row.last_version, archived: row.archived, createdAt: row.created_at }
    : undefined;
}
