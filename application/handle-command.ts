// Runs a command against an aggregate: load it (newest snapshot + the events after it), decide,
// append with the version it was loaded at. A conflict (someone appended in between) reloads
// and decides again, with jittered backoff, so hot streams make progress without surfacing a
// retry to the caller. Once SNAPSHOT_INTERVAL events have piled up since the snapshot it
// loaded from, the new state is snapshotted.
//
// This is the application layer: it joins the domain's deciders to the EventStore port, so the
// event store itself knows nothing of the domain.
import { type Decider, type DomainEvent, DomainError } from '../domain/shared';
import {
  ConcurrencyError,
  EventIdConflictError,
  type EventMetadata,
  type EventStore,
  type StreamName,
} from '../eventstore';
import type { AggregateCache } from './aggregate-cache';

export interface LoadedAggregate<State> {
  state: State;
  version: number;
  /** The version of the snapshot it was loaded from (0: none). */
  snapshotVersion: number;
  /** Global position of the stream's last event (undefined: empty stream). */
  position?: number;
}

export async function loadAggregate<State, Event extends DomainEvent>(
  store: EventStore,
  decider: Decider<State, never, Event>,
  id: string,
): Promise<LoadedAggregate<State>> {
  const stream = { type: decider.aggregateType, id };
  const { snapshot, events, lastPosition } = await store.readAggregate(
    stream,
    store.snapshotIntervalFor(stream.type) > 0 ? (decider.snapshotVersion ?? 1) : 0,
  );
  const from = snapshot?.version ?? 0;
  let state = snapshot ? (snapshot.state as State) : decider.initialState();
  for (const event of events) state = decider.evolve(state, event as unknown as Event);
  const version = events.length === 0 ? from : events[events.length - 1]!.version;
  return { state, version, snapshotVersion: from, position: lastPosition };
}

export interface HandleOptions {
  /** Derives the id of the i-th event produced; deterministic ids make retries idempotent. */
  eventId?: (index: number) => string;
  metadata?: EventMetadata;
  /** Attempts on ConcurrencyError before giving up (default 10). */
  maxAttempts?: number;
  /**
   * The caller's cancellation (an activity's cancellationSignal): checked before every load
   * and append, so a cancelled command stops between two queries. A query in flight is
   * bounded by the pool's statement timeout instead (node-postgres cannot abort one).
   */
  signal?: AbortSignal;
  /**
   * Aggregates folded by earlier commands in this process (aggregate-cache.ts): a command that
   * finds its aggregate there skips the load. Leave it out when the store is bound to a
   * transaction: what it writes may yet roll back.
   */
  cache?: AggregateCache;
  /**
   * The command normally creates the aggregate (CreateOrder): decide it on the initial state
   * and append with no_stream, without a load. Should the stream exist (a retry, a duplicate),
   * the append fails and the command is decided again from a load.
   */
  expectNew?: boolean;
}

export interface HandleResult<State, Event> {
  state: State;
  events: Event[];
  version: number;
}

/**
 * Loads the aggregate (from the aggregate cache when it holds it), decides, appends
 * with the version decided from. Returned states may be shared with the cache: never mutate
 * them (deciders are pure, so they do not).
 */
export async function handleCommand<State, Command, Event extends DomainEvent>(
  store: EventStore,
  decider: Decider<State, Command, Event>,
  id: string,
  command: Command,
  options: HandleOptions = {},
): Promise<HandleResult<State, Event>> {
  const stream = { type: decider.aggregateType, id };
  const { cache } = options;
  if (!cache) return decideAndAppend(store, decider, stream, command, options, undefined);
  return cache.exclusive(stream, async () => {
    try {
      return await decideAndAppend(store, decider, stream, command, options, cache);
    } catch (err) {
      // Whatever failed (a conflict, a lost connection after a commit), the next command on
      // this aggregate starts from the store.
      cache.delete(stream);
      throw err;
    }
  });
}

async function decideAndAppend<State, Command, Event extends DomainEvent>(
  store: EventStore,
  decider: Decider<State, Command, Event>,
  stream: StreamName,
  command: Command,
  options: HandleOptions,
  cache: AggregateCache | undefined,
): Promise<HandleResult<State, Event>> {
  const maxAttempts = options.maxAttempts ?? 10;
  // A state the store has not just confirmed: the cached one, or "new" when expectNew.
  let unconfirmed: LoadedAggregate<State> | undefined =
    (cache?.get(stream, decider) as LoadedAggregate<State> | undefined) ??
    (options.expectNew
      ? { state: decider.initialState(), version: 0, snapshotVersion: 0 }
      : undefined);
  for (let attempt = 1; ;) {
    options.signal?.throwIfAborted();
    const fromStore = unconfirmed === undefined;
    const loaded = unconfirmed ?? (await loadAggregate(store, decider, stream.id));
    unconfirmed = undefined;
    if (fromStore) cache?.set(stream, { decider, ...loaded });
    let events: Event[];
    try {
      events = decider.decide(command, loaded.state);
    } catch (err) {
      // Only a state just read from the store may refuse a command.
      if (!fromStore) continue;
      // The retry of a command that already committed can be refused by the state it produced
      // (CreateOrder finds the order existing): its first event id being stored means success.
      const firstId = options.eventId?.(0);
      if (err instanceof DomainError && firstId && (await store.hasEvent(firstId))) {
        return { state: loaded.state, events: [], version: loaded.version };
      }
      throw err;
    }
    if (events.length === 0) {
      // Nothing to do, as long as that was decided on the stream as it is.
      if (!fromStore) continue;
      return { state: loaded.state, events, version: loaded.version };
    }
    options.signal?.throwIfAborted();
    try {
      const result = await store.appendToStream(
        stream,
        loaded.version === 0 ? 'no_stream' : loaded.version,
        events.map((event, i) => ({
          eventId: options.eventId?.(i),
          type: event.type,
          data: event.data,
        })),
        {
          metadata: options.metadata,
          // A cached version is checked with the position of its last event: a stream deleted by
          // retention and written again can reach the same version with other events.
          expectedLastPosition: fromStore ? undefined : loaded.position,
        },
      );
      const state = events.reduce((s, e) => decider.evolve(s, e), loaded.state);
      const version = result.nextExpectedVersion;
      // Only when this call wrote the events: an idempotent replay returns older positions,
      // and its state was not folded from the stream's head.
      const wrote = result.positions[0]?.version === loaded.version + 1;
      if (!wrote) {
        cache?.delete(stream);
        return { state, events, version };
      }
      const position = result.positions[result.positions.length - 1]?.globalPosition;
      let snapshotVersion = loaded.snapshotVersion;
      const interval = store.snapshotIntervalFor(decider.aggregateType);
      if (interval > 0 && version - snapshotVersion >= interval) {
        // The events are committed: a snapshot is only a cache, so its failure must not turn
        // the command into a failure (a retry without an idempotency key would append twice).
        try {
          await store.writeSnapshot(stream, decider.snapshotVersion ?? 1, { version, state });
          snapshotVersion = version;
        } catch (err) {
          store.snapshotWriteFailed(stream, version, err);
        }
      }
      cache?.set(stream, { decider, state, version, snapshotVersion, position });
      return { state, events, version };
    } catch (err) {
      // A state the store had not confirmed may be behind (a conflict), or may meet this
      // command's own earlier attempt, stored with other timestamps: a load settles both.
      if (!fromStore && (err instanceof ConcurrencyError || err instanceof EventIdConflictError)) {
        continue;
      }
      if (!(err instanceof ConcurrencyError) || attempt >= maxAttempts) throw err;
      attempt++;
      await sleep(Math.random() * Math.min(100, 5 * 2 ** attempt));
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
