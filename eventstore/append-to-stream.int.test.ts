// appendToStream against the real Postgres: expected versions, racing writers, idempotent
// retries, metadata and the commit notification.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../test/harness';
import { ConcurrencyError, EventIdConflictError } from './errors';
import { createEventStore } from './postgres-event-store';
import type { StreamName } from './types';

// jest.config.js's per-project testTimeout is not applied by Jest: these tests race real
// writers and wait on Temporal, which under load takes longer than Jest's default 5 s.
jest.setTimeout(60_000);

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.close());

const stream = (): StreamName => ({ type: 'Test', id: randomUUID() });
const ev = (n: number) => ({ type: 'Happened', data: { n } });

async function versionsOf(s: StreamName): Promise<number[]> {
  const { rows } = await t.pool.query<{ version: number }>(
    'SELECT version FROM domain_events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY global_position',
    [s.type, s.id],
  );
  return rows.map((r) => r.version);
}

describe('appendToStream', () => {
  it('checks no_stream, stream_exists, any and numbers, writing nothing on a mismatch', async () => {
    const s = stream();
    await expect(t.store.appendToStream(s, 'stream_exists', [ev(0)])).rejects.toMatchObject({
      code: 'CONCURRENCY_CONFLICT',
      expected: 'stream_exists',
      actual: 0,
    });
    expect(await t.store.appendToStream(s, 'no_stream', [ev(1), ev(2)])).toMatchObject({
      nextExpectedVersion: 2,
    });
    await expect(t.store.appendToStream(s, 'no_stream', [ev(3)])).rejects.toBeInstanceOf(
      ConcurrencyError,
    );
    const stale = await t.store.appendToStream(s, 1, [ev(3)]).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(ConcurrencyError);
    expect(stale).toMatchObject({ expected: 1, actual: 2 });
    expect((await t.store.appendToStream(s, 2, [ev(3)])).nextExpectedVersion).toBe(3);
    expect((await t.store.appendToStream(s, 'stream_exists', [ev(4)])).nextExpectedVersion).toBe(4);
    expect((await t.store.appendToStream(s, 'any', [ev(5)])).nextExpectedVersion).toBe(5);
    expect(await versionsOf(s)).toEqual([1, 2, 3, 4, 5]);
    const read = await t.store.readStream(s);
    expect(read.map((e) => e.data)).toEqual([1, 2, 3, 4, 5].map((n) => ({ n })));
  });

  it('20 writers racing with the same expected version: versions 1..N exactly once, every loser gets a ConcurrencyError', async () => {
    const s = stream();
    // Each writer appends at the version it last saw and retries on conflict, until 10 rounds.
    // A store per writer, like 20 worker processes: their appends race in Postgres itself.
    const rounds = 10;
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, async (_, writer) => {
        const store = createEventStore(t.db);
        let won = 0;
        let lost = 0;
        for (let round = 0; round < rounds; round++) {
          const current = (await store.readStream(s)).length;
          try {
            await store.appendToStream(s, current === 0 ? 'no_stream' : current, [
              { type: 'Raced', data: { writer, round } },
            ]);
            won++;
          } catch (err) {
            if (!(err instanceof ConcurrencyError)) throw err;
            expect(err.actual).toBeGreaterThan(current);
            lost++;
          }
        }
        return { won, lost };
      }),
    );
    const won = outcomes.reduce((n, o) => n + o.won, 0);
    const lost = outcomes.reduce((n, o) => n + o.lost, 0);
    expect(won + lost).toBe(20 * rounds);
    expect(lost).toBeGreaterThan(0);
    const versions = await versionsOf(s);
    expect(versions).toEqual(Array.from({ length: won }, (_, i) => i + 1));
  });

  it('20 writers racing once on version 0: exactly one wins', async () => {
    const s = stream();
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        createEventStore(t.db).appendToStream(s, 'no_stream', [ev(i)]),
      ),
    );
    const winners = results.filter((r) => r.status === 'fulfilled');
    const losers = results.filter((r) => r.status === 'rejected');
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(19);
    for (const l of losers) {
      expect(l.reason).toBeInstanceOf(ConcurrencyError);
      expect(l.reason).toMatchObject({ expected: 'no_stream', actual: 1 });
    }
    expect(await versionsOf(s)).toEqual([1]);
  });

  it("16 writers appending with 'any' to one hot stream all succeed, each version once", async () => {
    const s = stream();
    const shared = createEventStore(t.db);
    const results = await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        // Half race in Postgres (a store each, like separate processes); half share one store,
        // whose appends to the stream queue in-process.
        const store = w % 2 ? createEventStore(t.db) : shared;
        const out: number[] = [];
        for (let i = 0; i < 5; i++) {
          out.push((await store.appendToStream(s, 'any', [ev(w * 100 + i)])).nextExpectedVersion);
        }
        return out;
      }),
    );
    const versions = results.flat().sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    expect(await versionsOf(s)).toEqual(versions);
  });

  it('an activity-style retry of a committed append writes nothing and returns the same positions', async () => {
    const appended: string[] = [];
    const store = createEventStore(t.db, {
      onAppended: (_s, events) => appended.push(...events.map((e) => e.type)),
    });
    const s = stream();
    await store.appendToStream(s, 'no_stream', [ev(0)]);
    const events = [
      { eventId: randomUUID(), type: 'A', data: { x: 1, nested: { b: 2, a: 1 } } },
      { eventId: randomUUID(), type: 'B', data: { y: [1, 2] } },
    ];
    const metadata = { correlationId: 'c-1', workflowId: 'order-1', runId: 'r-1', activityId: '3' };
    const first = await store.appendToStream(s, 1, events, { metadata });
    // The retry was decided against the stale version, and reorders keys: still the same events.
    const retry = await store.appendToStream(
      s,
      1,
      events.map((e) => ({ ...e, eventId: e.eventId.toUpperCase() })),
      { metadata },
    );
    expect(retry).toEqual(first);
    const retryAny = await store.appendToStream(
      s,
      'any',
      [{ ...events[1]!, data: { y: [1, 2] } }, events[0]!].reverse(),
    );
    expect(retryAny.positions).toEqual(first.positions);
    expect(await versionsOf(s)).toEqual([1, 2, 3]);
    expect(appended).toEqual(['Happened', 'A', 'B']);

    const stored = await store.readStream(s, 2);
    expect(stored[0]!.metadata).toMatchObject(metadata);
    expect(stored[0]!.globalPosition).toBe(first.positions[0]!.globalPosition);
  });

  it('the same event id with other content is an EventIdConflictError and writes nothing', async () => {
    const s = stream();
    const eventId = randomUUID();
    await t.store.appendToStream(s, 'no_stream', [{ eventId, type: 'A', data: { x: 1 } }]);
    await expect(
      t.store.appendToStream(s, 1, [{ eventId, type: 'A', data: { x: 2 } }]),
    ).rejects.toBeInstanceOf(EventIdConflictError);
    await expect(
      t.store.appendToStream(stream(), 'no_stream', [{ eventId, type: 'A', data: { x: 1 } }]),
    ).rejects.toMatchObject({ code: 'EVENT_ID_CONFLICT', eventIds: [eventId] });
    expect(await versionsOf(s)).toEqual([1]);
  });

  it('notifies listeners on commit', async () => {
    const listener = new pg.Client({ connectionString: t.url });
    await listener.connect();
    try {
      const received = new Promise<string>((resolve) =>
        listener.on('notification', (n) => resolve(n.channel)),
      );
      await listener.query('LISTEN domain_events');
      await t.store.appendToStream(stream(), 'any', [ev(1)]);
      expect(await received).toBe('domain_events');
    } finally {
      await listener.end();
    }
  });

  it('notifies after every burst of appends, and at commit for an append inside a transaction', async () => {
    const listener = new pg.Client({ connectionString: t.url });
    await listener.connect();
    let count = 0;
    listener.on('notification', () => count++);
    try {
      await listener.query('LISTEN domain_events');
      await t.store.flushNotifications();
      count = 0;
      // 50 concurrent appends are covered by far fewer notifications, the last one after all.
      await Promise.all(
        Array.from({ length: 50 }, () => t.store.appendToStream(stream(), 'any', [ev(1)])),
      );
      await t.store.flushNotifications();
      await listener.query('SELECT 1'); // notifications sent before this round trip have arrived
      expect(count).toBeGreaterThanOrEqual(1);
      expect(count).toBeLessThanOrEqual(50);

      count = 0;
      await t.store.db.transaction().execute(async (trx) => {
        await createEventStore(trx).appendToStream(stream(), 'any', [ev(2)]);
        await listener.query('SELECT 1');
        expect(count).toBe(0); // not before the commit
      });
      await listener.query('SELECT 1');
      expect(count).toBe(1);
    } finally {
      await listener.end();
    }
  });

  it('notifies at once after a quiet spell, and once more for the appends within the interval', async () => {
    const listener = new pg.Client({ connectionString: t.url });
    await listener.connect();
    let count = 0;
    let waiting: { n: number; resolve: () => void } | undefined;
    listener.on('notification', () => {
      count++;
      if (waiting && count >= waiting.n) waiting.resolve();
    });
    const notified = (n: number) =>
      count >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { n, resolve }));
    // An interval no append sequence here comes near: what is sent before flush() is only the
    // leading NOTIFY.
    const slow = createEventStore(t.store.db, { notifyIntervalMs: 60_000 });
    const quick = createEventStore(t.store.db, { notifyIntervalMs: 20 });
    try {
      await listener.query('LISTEN domain_events');
      await t.store.flushNotifications();
      count = 0;

      await slow.appendToStream(stream(), 'any', [ev(1)]);
      await notified(1); // without a flush: the first append after a quiet spell
      for (let i = 0; i < 5; i++) await slow.appendToStream(stream(), 'any', [ev(i)]);
      await listener.query('SELECT 1');
      expect(count).toBe(1); // the five wait for the interval, covered by one NOTIFY
      await slow.flushNotifications();
      await notified(2);
      await listener.query('SELECT 1');
      expect(count).toBe(2);

      // With a short interval the trailing NOTIFY goes by itself.
      await quick.appendToStream(stream(), 'any', [ev(1)]);
      await quick.appendToStream(stream(), 'any', [ev(2)]);
      await notified(4);
      expect(count).toBe(4);
    } finally {
      await slow.flushNotifications();
      await quick.flushNotifications();
      await listener.end();
    }
  });
});
