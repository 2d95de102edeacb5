// Runs a command against an aggregate: load it (newest snapshot + the events after it), decide,
// append with the version it was loaded at. A conflict (someone appended in between) reloads
// and decides again, with jittered backoff, so hot streams make progress without surfacing a
// retry to the caller. Once SNAPSHOT_INTERVAL events have piled up since the snapshot it
// loaded from, the new state is snapshotted.
import { type Decider, type DomainEvent, DomainError } from '../domain/shared';
import { ConcurrencyError } from './errors';
import type { EventStore } from './event-store';
import type { EventMetadata } from './types';

export interface LoadedAggregate<State> {
  state: State;
  version: number;
  /** The version of the snapshot it was loaded from (0: none). */
  snapshotVersion: number;
}

export async function loadAggregate<State, Event extends DomainEvent>(
  store: EventStore,
  decider: Decider<State, never, Event>,
  id: string,
): Promise<LoadedAggregate<State>> {
  const stream = { type: decider.aggregateType, id };
  const { snapshot, events } = await store.readAggregate(
    stream,
    store.snapshotIntervalFor(stream.type) > 0 ? (decider.snapshotVersion ?? 1) : 0,
  );
  const from = snapshot?.version ?? 0;
  let state = snapshot ? (snapshot.state as State) : decider.initialState();
  for (const event of events) state = decider.evolve(state, event as unknown as Event);
  const version = events.length === 0 ? from : events[events.length - 1]!.version;
  return { state, version, snapshotVersion: from };
}

export interface HandleOptions {
  /** Derives the id of the i-th event produced; deterministic ids make retries idempotent. */
  eventId?: (index: number) => string;
  metadata?: EventMetadata;
  /** Attempts on ConcurrencyError before giving up (default 10). */
  maxAttempts?: number;
}

export interface HandleResult<State, Event> {
  state: State;
  events: Event[];
  version: number;
}

export async function handleCommand<State, Command, Event extends DomainEvent>(
  store: EventStore,
  decider: Decider<State, Command, Event>,
  id: string,
  command: Command,
  options: HandleOptions = {},
): Promise<HandleResult<State, Event>> {
  const maxAttempts = options.maxAttempts ?? 10;
  for (let attempt = 1; ; attempt++) {
    const loaded = await loadAggregate(store, decider, id);
    let events: Event[];
    try {
      events = decider.decide(command, loaded.state);
    } catch (err) {
      // The retry of a command that already committed can be refused by the state it produced
      // (CreateOrder finds the order existing): its first event id being stored means success.
      const firstId = options.eventId?.(0);
      if (err instanceof DomainError && firstId && (await store.hasEvent(firstId))) {
        return { state: loaded.state, events: [], version: loaded.version };
      }
      throw err;
    }
    if (events.length === 0) return { state: loaded.state, events, version: loaded.version };
    try {
      const result = await store.appendToStream(
        { type: decider.aggregateType, id },
        loaded.version === 0 ? 'no_stream' : loaded.version,
        events.map((event, i) => ({
          eventId: options.eventId?.(i),
          type: event.type,
          data: event.data,
        })),
        { metadata: options.metadata },
      );
      const state = events.reduce((s, e) => decider.evolve(s, e), loaded.state);
      const interval = store.snapshotIntervalFor(decider.aggregateType);
      // Only when this call wrote the events: an idempotent replay returns older positions.
      const wrote = result.positions[0]?.version === loaded.version + 1;
      if (
        wrote &&
        interval > 0 &&
        result.nextExpectedVersion - loaded.snapshotVersion >= interval
      ) {
        await store.writeSnapshot(
          { type: decider.aggregateType, id },
          decider.snapshotVersion ?? 1,
          { version: result.nextExpectedVersion, state },
        );
      }
      return { state, events, version: result.nextExpectedVersion };
    } catch (err) {
      if (!(err instanceof ConcurrencyError) || attempt >= maxAttempts) throw err;
      await sleep(Math.random() * Math.min(100, 5 * 2 ** attempt));
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
