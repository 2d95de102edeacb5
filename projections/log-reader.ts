// Reads the global log for the projections of one runner. Projections that sit at the same
// checkpoint (always the case while they catch up together) share one read of each batch, and
// the batch after a full one is read ahead while the current one is being applied.
import type pg from 'pg';
import {
  type Checkpoint,
  type EventStore,
  logOrder,
  logRelation,
  type RecordedEvent,
  visibleAfter,
} from '../eventstore';

export interface LogBatch {
  events: RecordedEvent[];
  checkpoint: Checkpoint;
}

export type ReadAll = (after: Checkpoint, limit: number) => Promise<LogBatch>;

export function checkpointKey(c: Checkpoint): string {
  return `${c.transactionId}/${c.globalPosition}`;
}

export class LogReader {
  private readonly cache = new Map<string, Promise<LogBatch>>();

  constructor(
    private readonly readAll: ReadAll,
    readonly batchSize: number,
    /** Batches kept for projections that lag behind the others. */
    private readonly capacity = 8,
  ) {}

  static fromStore(store: Pick<EventStore, 'readAllFrom'>, batchSize: number): LogReader {
    return new LogReader((after, limit) => store.readAllFrom(after, limit), batchSize);
  }

  static fast(
    pool: pg.Pool,
    store: Pick<EventStore, 'codec' | 'upcasters'>,
    types: ReadonlySet<string>,
    batchSize: number,
  ): LogReader {
    return new LogReader(fastReadAll(pool, store, types), batchSize);
  }

  read(after: Checkpoint): Promise<LogBatch> {
    return this.fetch(after, true);
  }

  private fetch(after: Checkpoint, readAhead: boolean): Promise<LogBatch> {
    const key = checkpointKey(after);
    const cached = this.cache.get(key);
    if (cached) {
      this.cache.delete(key);
      this.cache.set(key, cached);
      if (readAhead)
        void cached.then(
          (b) => this.readAhead(b),
          () => undefined,
        );
      return cached;
    }
    const pending = this.readAll(after, this.batchSize);
    this.cache.set(key, pending);
    while (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value!);
    pending.then(
      (batch) => {
        // A short batch reached the head of the log: the next reader must look again.
        if (batch.events.length < this.batchSize) this.cache.delete(key);
        else if (readAhead) this.readAhead(batch);
      },
      () => this.cache.delete(key),
    );
    return pending;
  }

  private readAhead(batch: LogBatch): void {
    if (batch.events.length < this.batchSize) return;
    if (this.cache.has(checkpointKey(batch.checkpoint))) return;
    this.fetch(batch.checkpoint, false).catch(() => undefined);
  }
}

/** Why an event could not be decoded (a missing key, a corrupt payload), when it could not. */
const undecodable = new WeakMap<RecordedEvent, Error>();

export function undecodableReason(event: RecordedEvent): Error | undefined {
  return undecodable.get(event);
}

/** Columns the narrow read takes from the log (no metadata). */
const FAST_COLUMNS = [
  'global_position',
  'transaction_id',
  'event_id',
  'aggregate_type',
  'aggregate_id',
  'version',
  'event_type',
  'schema_version',
  'event_data',
  'event_data_bytes',
  'codec',
  'key_id',
  'created_at',
];

const FAST_READ_SQL = `
  SELECT e.global_position, e.transaction_id::text AS txid, e.event_id, e.aggregate_type,
         e.aggregate_id, e.version, e.event_type, e.schema_version, e.codec, e.key_id,
         CASE WHEN e.event_type = ANY($4::text[]) THEN e.event_data END AS event_data,
         CASE WHEN e.event_type = ANY($4::text[]) THEN e.event_data_bytes END AS event_data_bytes,
         (extract(epoch FROM e.created_at) * 1000)::float8 AS created_ms
  FROM ${logRelation('e', FAST_COLUMNS)}
  WHERE ${visibleAfter('e', '$1', '$2')}
  ORDER BY ${logOrder('e')}
  LIMIT $3`;

/**
 * The event store's gap-free read of the log (live and archived rows below pg_snapshot_xmin, in
 * (transaction_id, global_position) order), narrowed to what projections use: the payload only
 * of the event types they handle, no metadata. It is about twice as fast as the general read,
 * which is most of a catch-up's cost. Only handled events are decoded (with the store's codec)
 * and upcast (with the store's upcasters). An event that cannot be decoded does not fail the
 * read, which several projections share: it is marked (undecodableReason), and each projection
 * that handles it fails on it, naming it, while the others go on.
 */
export function fastReadAll(
  pool: pg.Pool,
  store: Pick<EventStore, 'codec' | 'upcasters'>,
  types: ReadonlySet<string>,
): ReadAll {
  const typeList = [...types];
  const { codec, upcasters } = store;
  return async (after, limit) => {
    const { rows } = await pool.query<{
      global_position: string;
      txid: string;
      event_id: string;
      aggregate_type: string;
      aggregate_id: string;
      version: number;
      event_type: string;
      schema_version: number;
      codec: string;
      key_id: string | null;
      event_data: unknown;
      event_data_bytes: Buffer | null;
      created_ms: number;
    }>(FAST_READ_SQL, [after.transactionId, after.globalPosition, limit, typeList]);
    const events = rows.map((row): RecordedEvent => {
      const event: RecordedEvent = {
        globalPosition: Number(row.global_position),
        transactionId: row.txid,
        eventId: row.event_id,
        streamType: row.aggregate_type,
        streamId: row.aggregate_id,
        version: row.version,
        type: row.event_type,
        schemaVersion: row.schema_version,
        data: null,
        metadata: {},
        // Parsed from epoch milliseconds: much cheaper than the driver's timestamp parser.
        createdAt: new Date(row.created_ms),
      };
      if (!types.has(row.event_type)) return event;
      try {
        const stored =
          row.codec === 'json'
            ? row.event_data
            : codec.decode(
                {
                  codec: row.codec,
                  json: row.event_data,
                  bytes: row.event_data_bytes,
                  keyId: row.key_id,
                },
                row.event_id,
              );
        const upcast = upcasters.upcast(row.event_type, row.schema_version, stored);
        event.schemaVersion = upcast.schemaVersion;
        event.data = upcast.data;
      } catch (err) {
        undecodable.set(event, err instanceof Error ? err : new Error(String(err)));
      }
      return event;
    });
    const last = events[events.length - 1];
    return {
      events,
      checkpoint: last
        ? { transactionId: last.transactionId, globalPosition: last.globalPosition }
        : after,
    };
  };
}
