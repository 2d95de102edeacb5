// The folded state of aggregates this process loaded or wrote last, so that the next command on
// one of them skips its load: one round trip instead of two. A saga touches each of its
// aggregates more than once (the order is created then completed, the stock is reserved then
// committed), so most of its commands find their aggregate here.
//
// It can be stale (another process appended since), and that is safe because of how
// handleCommand uses it: events decided from a cached state are appended with the cached
// version (and the position of its last event) as the expected version, so a stale state fails
// with a ConcurrencyError and the
// command reloads. What no append can check (a refusal, or a decision to append nothing) is
// always decided again from a fresh load before it is returned.
import { LRUCache } from 'lru-cache';
import { KeyedQueue } from '../eventstore/keyed-queue';
import type { StreamName } from '../eventstore';

export interface CachedAggregate {
  /** The decider that folded `state`: another decider of the same type never reads it. */
  decider: object;
  state: unknown;
  version: number;
  /** The version of the newest snapshot (0: none), for the snapshot interval. */
  snapshotVersion: number;
  /**
   * Global position of the stream's last event: the append checks it with the version, since a
   * stream deleted by retention and written again can reach the same version with other events.
   */
  position?: number;
}

/** AGGREGATE_CACHE_SIZE's default. */
export const DEFAULT_AGGREGATE_CACHE_SIZE = 10_000;

export class AggregateCache {
  private readonly entries: LRUCache<string, CachedAggregate>;
  private readonly turns = new KeyedQueue();

  constructor(maxEntries: number) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`an aggregate cache needs at least one entry, got ${maxEntries}`);
    }
    this.entries = new LRUCache({ max: maxEntries });
  }

  /**
   * Runs the commands on one aggregate one at a time in this process: two of them decided
   * from the same cached version would have the second fail on the first's append.
   */
  exclusive<T>(stream: StreamName, fn: () => Promise<T>): Promise<T> {
    return this.turns.run(keyOf(stream), fn);
  }

  get(stream: StreamName, decider: object): CachedAggregate | undefined {
    const entry = this.entries.get(keyOf(stream));
    return entry?.decider === decider ? entry : undefined;
  }

  set(stream: StreamName, entry: CachedAggregate): void {
    this.entries.set(keyOf(stream), entry);
  }

  delete(stream: StreamName): void {
    this.entries.delete(keyOf(stream));
  }

  get size(): number {
    return this.entries.size;
  }
}

const keyOf = (stream: StreamName) => `${stream.type}\u0000${stream.id}`;
