// Aggregate snapshots: the folded state of a stream at a version, stored through the payload
// codec like events. A snapshot is only a cache of its events, so losing one never changes
// what an aggregate loads; one of another shape (snapshot_version) or folded under another set
// of upcasters (upcaster_set) is ignored.
import { sql } from 'kysely';
import type { StoreContext } from './store-context';
import type { PayloadAad } from './codec';
import type { Snapshot } from './snapshot-policy';
import type { StreamName } from './types';

export { type Snapshot, type SnapshotPolicy, snapshotIntervalFor } from './snapshot-policy';

/**
 * Binds an encrypted snapshot to its aggregate and version. The v1 string already named the
 * stream; v2 keeps the parts apart as a JSON array like events do.
 */
export const snapshotAad = (stream: StreamName, version: number): PayloadAad => ({
  bound: JSON.stringify(['snapshot/v2', stream.type, stream.id, version]),
  legacy: `snapshot/${stream.type}/${stream.id}/${version}`,
});
const aad = snapshotAad;

export async function readSnapshot(
  ctx: StoreContext,
  stream: StreamName,
  snapshotVersion: number,
): Promise<Snapshot | undefined> {
  const row = await ctx.db
    .selectFrom('aggregate_snapshots')
    .select(['version', 'snapshot_data', 'snapshot_data_bytes', 'codec', 'key_id'])
    .where('aggregate_type', '=', stream.type)
    .where('aggregate_id', '=', stream.id)
    .where('snapshot_version', '=', snapshotVersion)
    .where('upcaster_set', '=', ctx.upcasters.chainVersion(stream.type))
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row) return undefined;
  const state = ctx.codec.decode(
    {
      codec: row.codec,
      json: row.snapshot_data,
      bytes: row.snapshot_data_bytes,
      keyId: row.key_id,
    },
    aad(stream, row.version),
  );
  return { version: row.version, state };
}

export async function writeSnapshot(
  ctx: StoreContext,
  stream: StreamName,
  snapshotVersion: number,
  snapshot: Snapshot,
): Promise<void> {
  const encoded = ctx.codec.encode(snapshot.state, aad(stream, snapshot.version));
  const row = {
    aggregate_type: stream.type,
    aggregate_id: stream.id,
    version: snapshot.version,
    snapshot_version: snapshotVersion,
    upcaster_set: ctx.upcasters.chainVersion(stream.type),
    snapshot_data: encoded.bytes ? null : JSON.stringify(encoded.json),
    snapshot_data_bytes: encoded.bytes,
    codec: encoded.codec,
    key_id: encoded.keyId,
  };
  // Two writers snapshotting the same version write the same state: the first one wins, unless
  // the stored one is of an older shape.
  await ctx.db
    .insertInto('aggregate_snapshots')
    .values(row)
    .onConflict((oc) =>
      oc
        .columns(['aggregate_type', 'aggregate_id', 'version'])
        .doUpdateSet({
          snapshot_version: (eb) => eb.ref('excluded.snapshot_version'),
          upcaster_set: (eb) => eb.ref('excluded.upcaster_set'),
          snapshot_data: sql`excluded.snapshot_data`,
          snapshot_data_bytes: (eb) => eb.ref('excluded.snapshot_data_bytes'),
          codec: (eb) => eb.ref('excluded.codec'),
          key_id: (eb) => eb.ref('excluded.key_id'),
          created_at: sql<Date>`now()`,
        })
        .where(
          sql<boolean>`(aggregate_snapshots.snapshot_version, aggregate_snapshots.upcaster_set)
            <> (excluded.snapshot_version, excluded.upcaster_set)`,
        ),
    )
    .execute();
}

/**
 * Deletes snapshots older than maxAgeDays, except each aggregate's newest: an aggregate keeps
 * a snapshot to load from however long it has been quiet.
 */
export async function cleanupSnapshots(ctx: StoreContext, maxAgeDays: number): Promise<number> {
  const result = await sql`
    DELETE FROM aggregate_snapshots s
    WHERE s.created_at < now() - make_interval(days => ${maxAgeDays})
      AND EXISTS (
        SELECT 1 FROM aggregate_snapshots newer
        WHERE newer.aggregate_type = s.aggregate_type
          AND newer.aggregate_id = s.aggregate_id
          AND newer.version > s.version
      )`.execute(ctx.db);
  return Number(result.numAffectedRows ?? 0);
}
