// Reads the global log after a checkpoint without ever skipping an event. Identity values are
// handed out before commit, so a row with a smaller global_position can become visible after a
// larger one. Reading only rows whose transaction is older than every transaction still in
// progress (pg_snapshot_xmin), ordered by (transaction_id, global_position), makes the order
// of visibility the order of reading. Archived events are part of the log (log-sql.ts).
import type { Selectable } from 'kysely';
import type { StoreContext } from './store-context';
import { toSafeNumber } from './db';
import type { LogLag, ReadAllOptions, ReadAllResult } from './event-store';
import { LAG_SQL, NARROW_READ_ALL_SQL, READ_ALL_SQL } from './log-sql';
import { decodeStored, toRecordedEvent } from './recorded-event';
import { runStatement } from './run-statement';
import type { DomainEventsTable } from './schema';
import type { Checkpoint, RecordedEvent } from './types';

interface NarrowRow {
  global_position: string;
  transaction_id: string;
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
}

export async function readAllFrom(
  ctx: StoreContext,
  after: Checkpoint,
  limitOrOptions: number | ReadAllOptions = {},
): Promise<ReadAllResult> {
  const options = typeof limitOrOptions === 'number' ? { limit: limitOrOptions } : limitOrOptions;
  const limit = options.limit ?? 1000;
  const events: RecordedEvent[] = [];
  let checkpoint = after;
  while (events.length < limit) {
    const want = Math.min(READ_PAGE, limit - events.length);
    const page = await readPage(ctx, checkpoint, want, options);
    for (const event of page) events.push(event);
    const last = page[page.length - 1];
    if (last)
      checkpoint = { transactionId: last.transactionId, globalPosition: last.globalPosition };
    if (page.length < want) break;
  }
  return { events, checkpoint };
}

/**
 * Rows per query of a larger read. The driver holds a query's result as rows of strings until
 * its last row arrives, so every row of a large result outlives young-generation collections
 * and is copied by them; pages this small mostly die young. The pages of one read are what
 * successive reads from each page's end would return, so the read stays gap-free.
 */
const READ_PAGE = 1000;

async function readPage(
  ctx: StoreContext,
  after: Checkpoint,
  limit: number,
  options: ReadAllOptions,
): Promise<RecordedEvent[]> {
  return options.metadata === false
    ? await readNarrow(ctx, after, limit, options)
    : (
        await runStatement<Selectable<DomainEventsTable>>(ctx, READ_ALL_SQL, [
          after.transactionId,
          after.globalPosition,
          limit,
        ])
      ).map((row) => {
        const wanted = !options.types || options.types.has(row.event_type);
        if (!wanted || !options.onUndecodable) return toRecordedEvent(ctx, row, wanted);
        try {
          return toRecordedEvent(ctx, row);
        } catch (err) {
          const event = toRecordedEvent(ctx, row, false);
          options.onUndecodable(event, err instanceof Error ? err : new Error(String(err)));
          return event;
        }
      });
}

/** The metadata of every event a narrow read returns: one frozen object, not one per event. */
const NO_METADATA: RecordedEvent['metadata'] = Object.freeze({});

async function readNarrow(
  ctx: StoreContext,
  after: Checkpoint,
  limit: number,
  options: ReadAllOptions,
): Promise<RecordedEvent[]> {
  const { types } = options;
  const rows = await runStatement<NarrowRow>(ctx, NARROW_READ_ALL_SQL, [
    after.transactionId,
    after.globalPosition,
    limit,
    types ? [...types] : null,
  ]);
  return rows.map((row): RecordedEvent => {
    const event: RecordedEvent = {
      globalPosition: toSafeNumber(row.global_position, 'global_position'),
      transactionId: row.transaction_id,
      eventId: row.event_id,
      streamType: row.aggregate_type,
      streamId: row.aggregate_id,
      version: row.version,
      type: row.event_type,
      schemaVersion: row.schema_version,
      data: null,
      metadata: NO_METADATA,
      createdAt: new Date(row.created_ms),
    };
    if (types && !types.has(row.event_type)) return event;
    try {
      const upcast = decodeStored(ctx, row);
      event.schemaVersion = upcast.schemaVersion;
      event.data = upcast.data;
    } catch (err) {
      if (!options.onUndecodable) throw err;
      options.onUndecodable(event, err instanceof Error ? err : new Error(String(err)));
    }
    return event;
  });
}

export async function lag(ctx: StoreContext, after: Checkpoint): Promise<LogLag> {
  const rows = await runStatement<{ n: string; oldest: Date | null }>(ctx, LAG_SQL, [
    after.transactionId,
    after.globalPosition,
  ]);
  const row = rows[0]!;
  return { events: Number(row.n), oldestUnreadAt: row.oldest ?? undefined };
}
