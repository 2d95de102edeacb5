// The EventStore contract: one spec that every implementation of the port passes. It runs twice,
// against Postgres (eventstore/postgres-event-store.int.test.ts) and in memory
// (eventstore/in-memory-event-store.test.ts). Each test writes its own streams, so the Postgres
// run can share one database; reads of the global log look only at the test's own streams and
// wait for them, because on Postgres another session's open transaction may hold the readable
// end back for a moment.
import { randomUUID } from 'node:crypto';
import {
  type Checkpoint,
  ConcurrencyError,
  EventIdConflictError,
  type EventStore,
  type EventStoreRetention,
  type NewEvent,
  type RecordedEvent,
  START,
  type StreamName,
  StreamTombstonedError,
  UpcasterRegistry,
} from '../eventstore';

export interface ContractStoreOptions {
  upcasters?: UpcasterRegistry;
}

/** Builds a store on the implementation under test; called once per test. */
export type StoreFactory = (options?: ContractStoreOptions) => EventStore & EventStoreRetention;

const stream = (type = 'Contract'): StreamName => ({ type, id: randomUUID() });
const ev = (n: number, type = 'Happened'): NewEvent => ({ type, data: { n } });

async function waitFor<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The checkpoint after everything readable now. */
async function endOfLog(store: EventStore): Promise<Checkpoint> {
  let checkpoint = START;
  for (;;) {
    const batch = await store.readAllFrom(checkpoint, 1000);
    if (batch.events.length === 0) return checkpoint;
    checkpoint = batch.checkpoint;
  }
}

/**
 * Reads the log from `from` in pages of `limit`, until `count` events of `streams` were seen;
 * returns those events in the order read and the checkpoints the reads returned.
 */
async function readStreamsFromLog(
  store: EventStore,
  from: Checkpoint,
  streams: readonly StreamName[],
  count: number,
  limit: number,
): Promise<{ events: RecordedEvent[]; checkpoint: Checkpoint }> {
  const ids = new Set(streams.map((s) => s.id));
  const events: RecordedEvent[] = [];
  let checkpoint = from;
  await waitFor(async () => {
    const batch = await store.readAllFrom(checkpoint, limit);
    expect(batch.events.length).toBeLessThanOrEqual(limit);
    events.push(...batch.events.filter((e) => ids.has(e.streamId)));
    checkpoint = batch.checkpoint;
    return events.length >= count ? true : undefined;
  }, `${count} events in the global log`);
  return { events, checkpoint };
}

export function eventStoreContract(name: string, create: StoreFactory): void {
  describe(`EventStore contract: ${name}`, () => {
    describe('append with an expected version', () => {
      it('no_stream: only on a stream without events', async () => {
        const store = create();
        const s = stream();
        const result = await store.appendToStream(s, 'no_stream', [ev(1), ev(2)]);
        expect(result.nextExpectedVersion).toBe(2);
        expect(result.positions.map((p) => p.version)).toEqual([1, 2]);
        await expect(store.appendToStream(s, 'no_stream', [ev(3)])).rejects.toMatchObject({
          code: 'CONCURRENCY_CONFLICT',
          expected: 'no_stream',
          actual: 2,
        });
      });

      it('stream_exists: only on a stream with events', async () => {
        const store = create();
        const s = stream();
        await expect(store.appendToStream(s, 'stream_exists', [ev(1)])).rejects.toBeInstanceOf(
          ConcurrencyError,
        );
        await store.appendToStream(s, 'no_stream', [ev(1)]);
        expect((await store.appendToStream(s, 'stream_exists', [ev(2)])).nextExpectedVersion).toBe(
          2,
        );
      });

      it('a version: only when it is the stream version', async () => {
        const store = create();
        const s = stream();
        await store.appendToStream(s, 0, [ev(1)]);
        await store.appendToStream(s, 1, [ev(2), ev(3)]);
        const err: unknown = await store.appendToStream(s, 1, [ev(4)]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConcurrencyError);
        expect(err).toMatchObject({ expected: 1, actual: 3 });
        await expect(store.appendToStream(s, -1, [ev(4)])).rejects.toBeInstanceOf(RangeError);
        expect((await store.readStream(s)).map((e) => e.data)).toEqual([
          { n: 1 },
          { n: 2 },
          { n: 3 },
        ]);
      });

      it('any: whatever the stream holds', async () => {
        const store = create();
        const s = stream();
        await store.appendToStream(s, 'any', [ev(1)]);
        const result = await store.appendToStream(s, 'any', [ev(2)]);
        expect(result.nextExpectedVersion).toBe(2);
      });

      it('an empty append writes nothing but still checks the expectation', async () => {
        const store = create();
        const s = stream();
        await store.appendToStream(s, 'no_stream', [ev(1)]);
        expect(await store.appendToStream(s, 1, [])).toEqual({
          nextExpectedVersion: 1,
          positions: [],
        });
        await expect(store.appendToStream(s, 0, [])).rejects.toBeInstanceOf(ConcurrencyError);
      });

      it('refuses an event without data, naming it', async () => {
        const store = create();
        await expect(
          store.appendToStream(stream(), 'any', [{ type: 'Empty', data: null }]),
        ).rejects.toMatchObject({ code: 'INVALID_APPEND' });
      });
    });

    describe('event ids', () => {
      it('a re-append of stored event ids returns the first result and writes nothing', async () => {
        const store = create();
        const s = stream();
        const events = [
          { ...ev(1), eventId: randomUUID() },
          { ...ev(2), eventId: randomUUID() },
        ];
        const first = await store.appendToStream(s, 'no_stream', events);
        // A retry after the commit: its expected version no longer holds, the ids say "done".
        const retry = await store.appendToStream(s, 'no_stream', events);
        expect(retry).toEqual(first);
        expect(await store.readStream(s)).toHaveLength(2);
        expect(await store.hasEvent(events[0]!.eventId)).toBe(true);
        expect(await store.hasEvent(randomUUID())).toBe(false);
      });

      it('an event id stored with other content is a conflict, never a retry', async () => {
        const store = create();
        const eventId = randomUUID();
        await store.appendToStream(stream(), 'any', [{ ...ev(1), eventId }]);
        await expect(
          store.appendToStream(stream(), 'any', [{ ...ev(2), eventId }]),
        ).rejects.toBeInstanceOf(EventIdConflictError);
      });
    });

    describe('concurrent appends', () => {
      it('two appends at the same version: one wins, the other gets a ConcurrencyError', async () => {
        const store = create();
        const s = stream();
        await store.appendToStream(s, 'no_stream', [ev(1)]);
        const results = await Promise.allSettled([
          store.appendToStream(s, 1, [ev(2)]),
          store.appendToStream(s, 1, [ev(3)]),
        ]);
        expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
        const lost = results.find((r) => r.status === 'rejected');
        expect(lost?.reason).toBeInstanceOf(ConcurrencyError);
        expect((await store.readStream(s)).map((e) => e.version)).toEqual([1, 2]);
      });

      it('appends with any all land, each at its own version', async () => {
        const store = create();
        const s = stream();
        await Promise.all(
          Array.from({ length: 8 }, (_, i) => store.appendToStream(s, 'any', [ev(i)])),
        );
        const stored = await store.readStream(s);
        expect(stored.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        expect(new Set(stored.map((e) => (e.data as { n: number }).n)).size).toBe(8);
      });
    });

    describe('reading', () => {
      it('a stream, whole or from a version, with metadata', async () => {
        const store = create();
        const s = stream();
        await store.appendToStream(s, 'no_stream', [ev(1), ev(2), ev(3)], {
          metadata: { correlationId: 'c-1' },
        });
        const all = await store.readStream(s);
        expect(all.map((e) => [e.version, e.type, e.data])).toEqual([
          [1, 'Happened', { n: 1 }],
          [2, 'Happened', { n: 2 }],
          [3, 'Happened', { n: 3 }],
        ]);
        expect(all[0]).toMatchObject({ streamType: s.type, streamId: s.id, schemaVersion: 1 });
        expect(all[0]!.metadata).toMatchObject({ correlationId: 'c-1' });
        expect((await store.readStream(s, 3)).map((e) => e.version)).toEqual([3]);
        expect(await store.readStream(stream())).toEqual([]);
      });

      it('upcasts old schema versions on read', async () => {
        const upcasters = new UpcasterRegistry().register('Renamed', 1, (data) => ({
          ...data,
          label: 'default',
        }));
        const store = create({ upcasters });
        const s = stream();
        await store.appendToStream(s, 'no_stream', [
          { type: 'Renamed', data: { n: 1 }, schemaVersion: 1 },
          { type: 'Renamed', data: { n: 2, label: 'new' } },
        ]);
        const read = await store.readStream(s);
        expect(read.map((e) => [e.schemaVersion, e.data])).toEqual([
          [2, { n: 1, label: 'default' }],
          [2, { n: 2, label: 'new' }],
        ]);
      });

      it('the global log from a checkpoint, in append order, page by page', async () => {
        const store = create();
        const from = await endOfLog(store);
        const a = stream();
        const b = stream();
        await store.appendToStream(a, 'no_stream', [ev(1), ev(2)]);
        await store.appendToStream(b, 'no_stream', [ev(3)]);
        await store.appendToStream(a, 2, [ev(4)]);
        const { events, checkpoint } = await readStreamsFromLog(store, from, [a, b], 4, 2);
        expect(events.map((e) => (e.data as { n: number }).n)).toEqual([1, 2, 3, 4]);
        expect(events.map((e) => `${e.streamId === a.id ? 'a' : 'b'}${e.version}`)).toEqual([
          'a1',
          'a2',
          'b1',
          'a3',
        ]);
        const last = events[3]!;
        expect(checkpoint).toEqual({
          transactionId: last.transactionId,
          globalPosition: last.globalPosition,
        });
        // From the last checkpoint, none of them comes again.
        const again = await store.readAllFrom(checkpoint, 1000);
        expect(again.events.filter((e) => e.streamId === a.id || e.streamId === b.id)).toEqual([]);
        // An empty read keeps the checkpoint it was given.
        const end = await endOfLog(store);
        expect((await store.readAllFrom(end, 10)).checkpoint).toEqual(end);
        expect((await store.lag(end)).events).toBe(0);
        expect((await store.lag(from)).events).toBeGreaterThanOrEqual(4);
      });

      it('the global log narrowed to some types, without metadata', async () => {
        const store = create();
        const from = await endOfLog(store);
        const s = stream();
        await store.appendToStream(s, 'no_stream', [ev(1, 'Wanted'), ev(2, 'Other')], {
          metadata: { correlationId: 'c-2' },
        });
        const ids = [s];
        const narrow = async () => {
          const all = await readStreamsFromLog(store, from, ids, 2, 1000);
          let checkpoint = from;
          const read: RecordedEvent[] = [];
          while (read.length < 2) {
            const batch = await store.readAllFrom(checkpoint, {
              limit: 1000,
              types: new Set(['Wanted']),
              metadata: false,
            });
            read.push(...batch.events.filter((e) => e.streamId === s.id));
            checkpoint = batch.checkpoint;
          }
          return { all: all.events, read };
        };
        const { all, read } = await narrow();
        expect(all.map((e) => e.metadata.correlationId)).toEqual(['c-2', 'c-2']);
        expect(read.map((e) => [e.type, e.data, e.metadata])).toEqual([
          ['Wanted', { n: 1 }, {}],
          ['Other', null, {}],
        ]);
        expect(read.map((e) => e.globalPosition)).toEqual(all.map((e) => e.globalPosition));
      });
    });

    describe('aggregates', () => {
      it('load from the newest snapshot of their shape and the events after it', async () => {
        const store = create();
        const s = stream('Snapshotted');
        const appended = await store.appendToStream(s, 'no_stream', [ev(1), ev(2), ev(3)]);
        await store.writeSnapshot(s, 1, { version: 2, state: { total: 3 } });
        const read = await store.readAggregate(s, 1);
        expect(read.snapshot).toEqual({ version: 2, state: { total: 3 } });
        expect(read.events.map((e) => e.version)).toEqual([3]);
        expect(read.lastPosition).toBe(appended.positions[2]!.globalPosition);
        // Another shape, or none wanted: every event.
        expect((await store.readAggregate(s, 2)).snapshot).toBeUndefined();
        expect((await store.readAggregate(s, 0)).events).toHaveLength(3);
        expect(await store.readAggregate(stream(), 1)).toEqual({
          snapshot: undefined,
          events: [],
          lastPosition: undefined,
        });
      });
    });

    describe.each([true, false])('retired streams (archive %s)', (archive) => {
      it('refuse their id to every later write, and keep or drop their events', async () => {
        const store = create();
        // A type of its own: retention here retires only this test's closed stream.
        const type = `Retired${randomUUID().slice(0, 8)}`;
        const closed = stream(type);
        const open = stream(type);
        const events = [
          { ...ev(1), eventId: randomUUID() },
          { ...ev(2, 'Closed'), eventId: randomUUID() },
        ];
        const first = await store.appendToStream(closed, 'no_stream', events);
        await store.appendToStream(open, 'no_stream', [ev(1)]);
        const before = await store.readStream(closed);

        expect(
          await store.archiveClosedStreams({
            olderThanDays: 0,
            closingEvents: { [type]: ['Closed'] },
            archive,
          }),
        ).toEqual({ streams: 1, events: 2 });

        for (const expected of ['no_stream', 'any', 'stream_exists', 2, 0] as const) {
          const reuse = store.appendToStream(closed, expected, [ev(3)]);
          await expect(reuse).rejects.toBeInstanceOf(StreamTombstonedError);
          await expect(reuse).rejects.toMatchObject({
            code: 'STREAM_TOMBSTONED',
            archived: archive,
          });
        }
        // The retry of the first append is answered from the archive; deleted, it is refused.
        const retry = store.appendToStream(closed, 'no_stream', events);
        if (archive) await expect(retry).resolves.toEqual(first);
        else await expect(retry).rejects.toMatchObject({ code: 'STREAM_TOMBSTONED' });
        expect(await store.readStream(closed)).toEqual(archive ? before : []);
        expect(await store.hasEvent(events[0]!.eventId)).toBe(archive);

        // The open stream of the same type goes on, at positions the retired one never had.
        const next = await store.appendToStream(open, 1, [ev(2)]);
        expect(next.nextExpectedVersion).toBe(2);
        expect(next.positions[0]!.globalPosition).toBeGreaterThan(
          first.positions[1]!.globalPosition,
        );
      });
    });

    it('answers a readiness ping', async () => {
      await expect(create().ping()).resolves.toBeUndefined();
    });
  });
}
