// The EventStore port held in memory, for tests of the layers above that need no SQL behaviour
// (command handling, activities, sagas with stub stores). It keeps the contract the Postgres
// store keeps (event-store.contract.ts runs against both): expected versions, idempotent event
// ids, ConcurrencyError, one global order, checkpoints, upcasting on read, snapshots, and
// retention's tombstones (a retired stream's id is refused as the Postgres store refuses it). It
// has no codec and no projection checkpoints: retention takes every closed stream as read, and
// an archived stream simply stays where it was. Payloads are stored as JSON, as jsonb would
// store them.
import { randomUUID } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import {
  ConcurrencyError,
  EventIdConflictError,
  InvalidAppendError,
  StreamTombstonedError,
} from './errors';
import type {
  AggregateRead,
  AppendOptions,
  EventStore,
  EventStoreRetention,
  LogLag,
  ReadAllOptions,
  ReadAllResult,
} from './event-store';
import type { ArchiveOptions, ArchiveResult } from './retention';
import { type Snapshot, type SnapshotPolicy, snapshotIntervalFor } from './snapshot-policy';
import type {
  AppendResult,
  Checkpoint,
  EventMetadata,
  ExpectedVersion,
  NewEvent,
  RecordedEvent,
  StreamName,
} from './types';
import { defaultUpcasters, type UpcasterRegistry } from './upcasters';

export interface InMemoryEventStoreOptions {
  upcasters?: UpcasterRegistry;
  /** Snapshot every N events per aggregate type (default every 100; interval 0 turns them off). */
  snapshots?: SnapshotPolicy;
  /** The clock that stamps createdAt (default: the system clock). */
  now?: () => Date;
}

/** An event as stored: its data in the schema version it was written with. */
interface StoredEvent {
  globalPosition: number;
  transactionId: bigint;
  eventId: string;
  stream: StreamName;
  version: number;
  type: string;
  schemaVersion: number;
  /** JSON text: what the caller passed, as jsonb would keep it, never shared with a caller. */
  json: string;
  metadata: EventMetadata;
  createdAt: Date;
}

export interface InMemoryEventStore extends EventStore, EventStoreRetention {
  /** Counters of what the store recovered from. */
  readonly stats: Readonly<{ snapshotWriteFailures: number }>;
}

const keyOf = (stream: StreamName) => `${stream.type}\u0000${stream.id}`;
const DAY_MS = 86_400_000;

export function createInMemoryEventStore(
  options: InMemoryEventStoreOptions = {},
): InMemoryEventStore {
  const upcasters = options.upcasters ?? defaultUpcasters();
  const policy = options.snapshots ?? { interval: 100 };
  const now = options.now ?? (() => new Date());
  const log: StoredEvent[] = [];
  const streams = new Map<string, StoredEvent[]>();
  const byId = new Map<string, StoredEvent>();
  const snapshots = new Map<
    string,
    { snapshotVersion: number; version: number; json: string; createdAt: Date }[]
  >();
  /** Streams retention retired: true when their events stayed (archived), false when deleted. */
  const tombstones = new Map<string, boolean>();
  const stats = { snapshotWriteFailures: 0 };
  // Each append is its own transaction, committed at once: transaction ids only grow, so the
  // global order (transaction id, position) is the order of appending.
  let lastTransaction = 0n;
  // Positions are never reused, also after retention deleted events (an identity column).
  let lastPosition = 0;

  const toRecorded = (e: StoredEvent, decode = true, metadata = true): RecordedEvent => {
    const upcast = decode
      ? upcasters.upcast(e.type, e.schemaVersion, JSON.parse(e.json))
      : { schemaVersion: e.schemaVersion, data: null };
    return {
      globalPosition: e.globalPosition,
      transactionId: String(e.transactionId),
      eventId: e.eventId,
      streamType: e.stream.type,
      streamId: e.stream.id,
      version: e.version,
      type: e.type,
      schemaVersion: upcast.schemaVersion,
      data: upcast.data,
      metadata: metadata ? structuredClone(e.metadata) : {},
      createdAt: new Date(e.createdAt),
    };
  };
  const after = (e: StoredEvent, c: Checkpoint) =>
    e.transactionId > BigInt(c.transactionId) ||
    (e.transactionId === BigInt(c.transactionId) && e.globalPosition > c.globalPosition);
  const head = (stream: StreamName) => streams.get(keyOf(stream))?.at(-1);

  function holds(
    expected: ExpectedVersion,
    last: StoredEvent | undefined,
    expectedLastPosition: number | undefined,
  ): boolean {
    const version = last?.version ?? 0;
    if (expected === 'any') return true;
    if (expected === 'no_stream') return version === 0;
    if (expected === 'stream_exists') return version > 0;
    return (
      version === expected &&
      (expectedLastPosition === undefined || last?.globalPosition === expectedLastPosition)
    );
  }

  async function appendToStream(
    stream: StreamName,
    expected: ExpectedVersion,
    events: readonly NewEvent[],
    appendOptions: AppendOptions = {},
  ): Promise<AppendResult> {
    if (typeof expected === 'number' && (!Number.isSafeInteger(expected) || expected < 0)) {
      throw new RangeError(`expected version must be a non-negative integer, got ${expected}`);
    }
    const last = head(stream);
    const current = last?.version ?? 0;
    const prepared = new Map<string, NewEvent>();
    events.forEach((event, index) => {
      const eventId = event.eventId?.toLowerCase() ?? randomUUID();
      if (prepared.has(eventId))
        throw new InvalidAppendError(stream, `event id ${eventId} appears twice in one append`);
      if (event.data === null || event.data === undefined)
        throw new InvalidAppendError(
          stream,
          `event ${index} (${event.type}) has no data: pass an object (e.g. {})`,
        );
      prepared.set(eventId, event);
    });

    // The retry of an append that already committed finds its own events: the first append's
    // result, nothing written. Ids stored with other content are a bug, never a retry.
    if ([...prepared.keys()].some((id) => byId.has(id))) {
      const mismatched = [...prepared].filter(([id, event]) => {
        const stored = byId.get(id);
        return (
          !stored ||
          keyOf(stored.stream) !== keyOf(stream) ||
          stored.type !== event.type ||
          canonicalJson(JSON.parse(stored.json)) !== canonicalJson(event.data)
        );
      });
      if (mismatched.length > 0) throw new EventIdConflictError(mismatched.map(([id]) => id));
      const positions = [...prepared.keys()].map((eventId) => {
        const stored = byId.get(eventId)!;
        return { eventId, version: stored.version, globalPosition: stored.globalPosition };
      });
      return { nextExpectedVersion: Math.max(...positions.map((p) => p.version)), positions };
    }
    // As in Postgres: a retired stream refuses every write, whatever the expected version says.
    const archived = tombstones.get(keyOf(stream));
    if (archived !== undefined && prepared.size > 0)
      throw new StreamTombstonedError(stream, archived);
    if (!holds(expected, last, appendOptions.expectedLastPosition)) {
      throw typeof expected === 'number' && current === expected
        ? new ConcurrencyError(stream, expected, current, 'the stream was written again since')
        : new ConcurrencyError(stream, expected, current);
    }
    if (prepared.size === 0) return { nextExpectedVersion: current, positions: [] };

    lastTransaction += 1n;
    const createdAt = now();
    const list = streams.get(keyOf(stream)) ?? [];
    streams.set(keyOf(stream), list);
    const positions = [...prepared].map(([eventId, event], i) => {
      const stored: StoredEvent = {
        globalPosition: ++lastPosition,
        transactionId: lastTransaction,
        eventId,
        stream: { ...stream },
        version: current + i + 1,
        type: event.type,
        schemaVersion: event.schemaVersion ?? upcasters.latestVersion(event.type),
        json: JSON.stringify(event.data),
        metadata: structuredClone({ ...appendOptions.metadata, ...event.metadata }),
        createdAt,
      };
      log.push(stored);
      list.push(stored);
      byId.set(eventId, stored);
      return { eventId, version: stored.version, globalPosition: stored.globalPosition };
    });
    return { nextExpectedVersion: current + prepared.size, positions };
  }

  async function archiveClosedStreams(archiveOptions: ArchiveOptions): Promise<ArchiveResult> {
    archiveOptions.signal?.throwIfAborted();
    // "Older than 0 days" takes in what was appended just before: the clock may not have moved.
    const cutoff = now().getTime() - archiveOptions.olderThanDays * DAY_MS;
    const retired = [...streams].filter(([key, list]) => {
      const last = list.at(-1);
      return (
        last !== undefined &&
        !tombstones.has(key) &&
        archiveOptions.closingEvents[last.stream.type]?.includes(last.type) === true &&
        last.createdAt.getTime() <= cutoff
      );
    });
    const result = { streams: retired.length, events: 0 };
    for (const [key, list] of retired) {
      result.events += list.length;
      tombstones.set(key, archiveOptions.archive);
      snapshots.delete(key);
      if (archiveOptions.archive) continue;
      streams.delete(key);
      for (const e of list) byId.delete(e.eventId);
    }
    if (!archiveOptions.archive && retired.length > 0) {
      const deleted = new Set(retired.map(([key]) => key));
      const kept = log.filter((e) => !deleted.has(keyOf(e.stream)));
      log.splice(0, log.length, ...kept);
    }
    if (retired.length > 0) archiveOptions.onBatch?.({ ...result, batches: 1 });
    return result;
  }

  return {
    stats,
    appendToStream,
    archiveClosedStreams,
    cleanupSnapshots: async (maxAgeDays) => {
      const cutoff = now().getTime() - maxAgeDays * DAY_MS;
      let deleted = 0;
      for (const [key, list] of snapshots) {
        const newest = Math.max(...list.map((s) => s.version));
        const kept = list.filter((s) => s.version === newest || s.createdAt.getTime() >= cutoff);
        deleted += list.length - kept.length;
        snapshots.set(key, kept);
      }
      return deleted;
    },
    readStream: async (stream, fromVersion = 1) =>
      (streams.get(keyOf(stream)) ?? [])
        .filter((e) => e.version >= fromVersion)
        .map((e) => toRecorded(e)),
    readAllFrom: async (
      checkpoint: Checkpoint,
      limitOrOptions: number | ReadAllOptions = {},
    ): Promise<ReadAllResult> => {
      const o = typeof limitOrOptions === 'number' ? { limit: limitOrOptions } : limitOrOptions;
      const events = log
        .filter((e) => after(e, checkpoint))
        .slice(0, o.limit ?? 1000)
        .map((e) => toRecorded(e, !o.types || o.types.has(e.type), o.metadata !== false));
      const last = events.at(-1);
      return {
        events,
        checkpoint: last
          ? { transactionId: last.transactionId, globalPosition: last.globalPosition }
          : checkpoint,
      };
    },
    lag: async (checkpoint: Checkpoint): Promise<LogLag> => {
      const unread = log.filter((e) => after(e, checkpoint));
      return { events: unread.length, oldestUnreadAt: unread[0]?.createdAt };
    },
    readAggregate: async (stream, snapshotVersion): Promise<AggregateRead> => {
      const all = streams.get(keyOf(stream)) ?? [];
      const newest =
        snapshotVersion > 0
          ? (snapshots.get(keyOf(stream)) ?? [])
              .filter((s) => s.snapshotVersion === snapshotVersion)
              .reduce<{ version: number; json: string } | undefined>(
                (best, s) => (best && best.version >= s.version ? best : s),
                undefined,
              )
          : undefined;
      const snapshot: Snapshot | undefined = newest && {
        version: newest.version,
        state: JSON.parse(newest.json),
      };
      const events = all
        .filter((e) => e.version > (snapshot?.version ?? 0))
        .map((e) => toRecorded(e));
      return { snapshot, events, lastPosition: all.at(-1)?.globalPosition };
    },
    snapshotIntervalFor: (aggregateType) => snapshotIntervalFor(policy, aggregateType),
    writeSnapshot: async (stream, snapshotVersion, snapshot) => {
      const list = (snapshots.get(keyOf(stream)) ?? []).filter(
        (s) => s.version !== snapshot.version,
      );
      list.push({
        snapshotVersion,
        version: snapshot.version,
        json: JSON.stringify(snapshot.state),
        createdAt: now(),
      });
      snapshots.set(keyOf(stream), list);
    },
    snapshotWriteFailed: () => {
      stats.snapshotWriteFailures += 1;
    },
    hasEvent: async (eventId) => byId.has(eventId.toLowerCase()),
    // Nothing to restore from: a new store is empty.
    assertNotRestored: async () => undefined,
    ping: async () => undefined,
  };
}
