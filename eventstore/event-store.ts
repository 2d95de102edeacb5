// The event store as a port: what the layers above (command handling, projections, the API's
// readiness check) may ask of the log. Two implementations keep to it and pass the same contract
// tests: createEventStore (Postgres, postgres-event-store.ts) and createInMemoryEventStore.
import type { ArchiveOptions, ArchiveResult } from './retention';
import type { Snapshot } from './snapshot-policy';
import type {
  AppendResult,
  Checkpoint,
  EventMetadata,
  ExpectedVersion,
  NewEvent,
  RecordedEvent,
  StreamName,
} from './types';

export interface AppendOptions {
  /** Merged under each event's own metadata. */
  metadata?: EventMetadata;
  /**
   * With a numeric expected version: the global position of the stream's last event as the
   * caller saw it. A stream deleted by retention and written again reaches the same version
   * with other events; this tells them apart (the aggregate cache passes it).
   */
  expectedLastPosition?: number;
}

export interface ReadAllOptions {
  /** Events per read (default 1000). */
  limit?: number;
  /**
   * Only events of these types carry their data (decoded and upcast); the others come back with
   * `data: null`, undecoded, and still move the checkpoint. What the projections read.
   */
  types?: ReadonlySet<string>;
  /** false: every event's metadata is `{}` (the read skips the column). Default true. */
  metadata?: boolean;
  /**
   * Given, an event that cannot be decoded (a missing key, a corrupt payload) does not fail the
   * read: it is returned with `data: null` and handed here. Without it the read throws.
   */
  onUndecodable?: (event: RecordedEvent, err: Error) => void;
}

export interface ReadAllResult {
  events: RecordedEvent[];
  /** The position after the last event returned (the input checkpoint when none). */
  checkpoint: Checkpoint;
}

export interface AggregateRead {
  snapshot: Snapshot | undefined;
  /** The stream's events after the snapshot (all of them without one), in version order. */
  events: RecordedEvent[];
  /** Global position of the stream's last event (undefined: the stream is empty). */
  lastPosition: number | undefined;
}

/** How far a reader at a checkpoint is behind the readable end of the log. */
export interface LogLag {
  events: number;
  /** When the oldest unread event was written (undefined: nothing unread). */
  oldestUnreadAt: Date | undefined;
}

export interface EventStore {
  /**
   * Appends to one stream if `expected` holds (a number: the stream's current version;
   * 'no_stream', 'stream_exists', 'any'), else ConcurrencyError. Appending event ids that are
   * already stored with the same content returns the first append's result and writes nothing;
   * with other content it is an EventIdConflictError.
   */
  appendToStream(
    stream: StreamName,
    expected: ExpectedVersion,
    events: readonly NewEvent[],
    options?: AppendOptions,
  ): Promise<AppendResult>;
  /** One stream in version order from `fromVersion` (default 1), decoded and upcast. */
  readStream(stream: StreamName, fromVersion?: number): Promise<RecordedEvent[]>;
  /**
   * The global log after a checkpoint, in commit order, never skipping an event that commits
   * later with a smaller position. A number is the limit.
   */
  readAllFrom(after: Checkpoint, options?: number | ReadAllOptions): Promise<ReadAllResult>;
  /** How much of the log a reader at `after` has still to read. */
  lag(after: Checkpoint): Promise<LogLag>;
  /**
   * What an aggregate loads from: its newest snapshot of shape `snapshotVersion` (0: none
   * wanted) and the stream's events after it.
   */
  readAggregate(stream: StreamName, snapshotVersion: number): Promise<AggregateRead>;
  /** Events per aggregate type between two snapshots (0: this type is not snapshotted). */
  snapshotIntervalFor(aggregateType: string): number;
  writeSnapshot(stream: StreamName, snapshotVersion: number, snapshot: Snapshot): Promise<void>;
  /**
   * A snapshot write failed after its events committed: logged and counted, never thrown (the
   * command succeeded; the next load simply reads more events).
   */
  snapshotWriteFailed(stream: StreamName, version: number, err: unknown): void;
  /** Whether the event id is stored (in the live log or the archive). */
  hasEvent(eventId: string): Promise<boolean>;
  /**
   * Refuses (RestoredDatabaseError) a log that cannot be read in order, such as a database
   * restored from a logical dump. Every read and append checks it once; call it at start to
   * refuse there.
   */
  assertNotRestored(): Promise<void>;
  /** Resolves when the store can serve reads and appends (readiness probes), else rejects. */
  ping(): Promise<void>;
}

/**
 * Moving closed streams out of the live log, and dropping old snapshots (retention). A stream
 * it moves or deletes is tombstoned: appends to it are refused (StreamTombstonedError) from then
 * on, so its id is never written again.
 */
export interface EventStoreRetention {
  archiveClosedStreams(options: ArchiveOptions): Promise<ArchiveResult>;
  /** Deletes snapshots older than maxAgeDays except each aggregate's newest; returns the count. */
  cleanupSnapshots(maxAgeDays: number): Promise<number>;
}
