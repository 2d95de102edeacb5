// The Postgres implementation of the EventStore port: its dependencies (pool, codec, upcasters,
// snapshot policy) bound once, each operation implemented in its own file.
import { type Kysely, sql } from 'kysely';
import { appendToStream } from './append-to-stream';
import type { StoreContext } from './store-context';
import { type PayloadCodec, jsonCodec } from './codec';
import { createCommitNotifier } from './commit-notifier';
import { poolOf } from './db';
import { RestoredDatabaseError } from './errors';
import type { AppendOptions, EventStore, EventStoreRetention, ReadAllOptions } from './event-store';
import { KeyedQueue } from './keyed-queue';
import { readAggregate } from './read-aggregate';
import { lag, readAllFrom } from './read-all';
import { readStream } from './read-stream';
import { assertTransactionIdsBehindServer } from './restore-check';
import { archiveClosedStreams, type ArchiveOptions } from './retention';
import {
  cleanupSnapshots,
  readSnapshot,
  type Snapshot,
  type SnapshotPolicy,
  snapshotIntervalFor,
  writeSnapshot,
} from './snapshots';
import type { EventStoreTables } from './schema';
import type { Checkpoint, ExpectedVersion, NewEvent, StreamName } from './types';
import { type UpcasterRegistry, defaultUpcasters } from './upcasters';

export interface EventStoreOptions {
  codec?: PayloadCodec;
  upcasters?: UpcasterRegistry;
  /** Snapshot every N events per aggregate type (default every 100; interval 0 turns them off). */
  snapshots?: SnapshotPolicy;
  /**
   * Called after each append that wrote events (not after an idempotent replay), e.g. to count
   * appended events per type. It must not throw.
   */
  onAppended?: (stream: StreamName, events: readonly { type: string }[]) => void;
  /** Where the store reports what it recovers from (a failed snapshot write). */
  logger?: { warn(obj: object, msg: string): void };
  /** Called when a snapshot write fails after its events committed (e.g. to count it). */
  onSnapshotWriteFailed?: (stream: StreamName, err: unknown) => void;
  /**
   * The longest a NOTIFY waits behind the previous one (commit-notifier.ts; default
   * DEFAULT_NOTIFY_INTERVAL_MS): appends closer together than this share one.
   */
  notifyIntervalMs?: number;
}

/** What only the Postgres store does: retention of the log, and its codec and counters. */
export interface PostgresEventStore extends EventStore, EventStoreRetention {
  /** How payloads are encoded and decoded, and upcast on read. */
  readonly codec: PayloadCodec;
  readonly upcasters: UpcasterRegistry;
  /** Counters of what the store recovered from. */
  readonly stats: Readonly<{ snapshotWriteFailures: number }>;
  /** Resolves once the NOTIFY for every append so far has been sent. */
  flushNotifications(): Promise<void>;
  readSnapshot(stream: StreamName, snapshotVersion: number): Promise<Snapshot | undefined>;
}

/**
 * `db` may know more tables than the event store's (one pool serves the whole app). Bound to a
 * transaction, the store's appends join it (and its NOTIFY is sent at its commit).
 */
export function createEventStore<DB extends EventStoreTables>(
  anyDb: Kysely<DB>,
  options: EventStoreOptions = {},
): PostgresEventStore {
  const db = anyDb as unknown as Kysely<EventStoreTables>;
  const ctx: StoreContext = {
    db,
    pool: db.isTransaction ? undefined : poolOf(db),
    codec: options.codec ?? jsonCodec,
    upcasters: options.upcasters ?? defaultUpcasters(),
    onAppended: options.onAppended,
    notifier: db.isTransaction ? undefined : createCommitNotifier(db, options.notifyIntervalMs),
  };
  const snapshots = options.snapshots ?? { interval: 100 };
  const queue = new KeyedQueue();
  const stats = { snapshotWriteFailures: 0 };
  // Checked once, before the store first touches the log: a database restored from a logical
  // dump must not be read or written (restore-check.ts). A failed query is checked again.
  let restoreCheck: Promise<void> | undefined;
  // Once passed, the check costs no await: it runs before every append and read.
  let restoreChecked = false;
  const notRestored = (): Promise<void> | undefined =>
    restoreChecked
      ? undefined
      : (restoreCheck ??= assertTransactionIdsBehindServer(db).then(
          () => {
            restoreChecked = true;
          },
          (err: unknown) => {
            if (!(err instanceof RestoredDatabaseError)) restoreCheck = undefined;
            throw err;
          },
        ));
  const append = async (
    stream: StreamName,
    expected: ExpectedVersion,
    events: readonly NewEvent[],
    appendOptions?: AppendOptions,
  ) => {
    if (!restoreChecked) await notRestored();
    return appendToStream(ctx, stream, expected, events, appendOptions);
  };
  return {
    codec: ctx.codec,
    upcasters: ctx.upcasters,
    stats,
    snapshotWriteFailed(stream: StreamName, version: number, err: unknown): void {
      stats.snapshotWriteFailures += 1;
      options.logger?.warn(
        { err, stream: `${stream.type}-${stream.id}`, version },
        'snapshot write failed after the append committed; the aggregate loads from its events',
      );
      options.onSnapshotWriteFailed?.(stream, err);
    },
    flushNotifications: () => ctx.notifier?.flush() ?? Promise.resolve(),
    appendToStream: (
      stream: StreamName,
      expected: ExpectedVersion,
      events: readonly NewEvent[],
      appendOptions?: AppendOptions,
    ) =>
      // Writers in this process queue per stream instead of racing each other to the same
      // version (a lost race costs a wait for the winner's commit plus a retry). In a caller's
      // transaction the caller owns the ordering.
      db.isTransaction
        ? append(stream, expected, events, appendOptions)
        : queue.run(`${stream.type}\u0000${stream.id}`, () =>
            append(stream, expected, events, appendOptions),
          ),
    // A database whose stored transaction ids are ahead of the server's (restore-check.ts).
    assertNotRestored: async () => notRestored(),
    ping: async () => {
      await sql`SELECT 1`.execute(db);
    },
    readStream: async (stream: StreamName, fromVersion?: number) => {
      await notRestored();
      return readStream(ctx, stream, fromVersion);
    },
    readAllFrom: async (after: Checkpoint, readOptions?: number | ReadAllOptions) => {
      await notRestored();
      return readAllFrom(ctx, after, readOptions);
    },
    lag: async (after: Checkpoint) => {
      await notRestored();
      return lag(ctx, after);
    },
    snapshotIntervalFor: (aggregateType: string) => snapshotIntervalFor(snapshots, aggregateType),
    // The newest snapshot of this shape and the events after it, in one query.
    readAggregate: async (stream: StreamName, snapshotVersion: number) => {
      await notRestored();
      return readAggregate(ctx, stream, snapshotVersion);
    },
    readSnapshot: (stream: StreamName, snapshotVersion: number) =>
      readSnapshot(ctx, stream, snapshotVersion),
    writeSnapshot: (stream: StreamName, snapshotVersion: number, snapshot: Snapshot) =>
      writeSnapshot(ctx, stream, snapshotVersion, snapshot),
    cleanupSnapshots: (maxAgeDays: number) => cleanupSnapshots(ctx, maxAgeDays),
    archiveClosedStreams: (archiveOptions: ArchiveOptions) =>
      archiveClosedStreams(ctx, archiveOptions),
    hasEvent: async (eventId: string) =>
      (await db
        .selectFrom('domain_events')
        .select('event_id')
        .where('event_id', '=', eventId)
        .unionAll(
          db.selectFrom('domain_events_archive').select('event_id').where('event_id', '=', eventId),
        )
        .executeTakeFirst()) !== undefined,
  };
}
