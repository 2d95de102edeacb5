// Reads the global log for the projections of one runner. Projections that sit at the same
// checkpoint (always the case while they catch up together) share one read of each batch, and
// the batch after a full one is read ahead while the current one is being applied.
import type { Checkpoint, EventStore, ReadAllOptions, RecordedEvent } from '../eventstore';

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

  /** Reads through the store, narrowed to the event types the projections handle. */
  static fromStore(
    store: Pick<EventStore, 'readAllFrom'>,
    types: ReadonlySet<string>,
    batchSize: number,
  ): LogReader {
    return new LogReader(projectionReadAll(store, types), batchSize);
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

/**
 * The store's gap-free read of the log, narrowed to what projections use: the payload only of
 * the event types they handle, no metadata (ReadAllOptions; about twice as fast as the general
 * read, which is most of a catch-up's cost). An event that cannot be decoded does not fail the
 * read, which several projections share: it is marked (undecodableReason), and each projection
 * that handles it fails on it, naming it, while the others go on.
 */
export function projectionReadAll(
  store: Pick<EventStore, 'readAllFrom'>,
  types: ReadonlySet<string>,
): ReadAll {
  const options: ReadAllOptions = {
    types,
    metadata: false,
    onUndecodable: (event, err) => undecodable.set(event, err),
  };
  return (after, limit) => store.readAllFrom(after, { ...options, limit });
}
