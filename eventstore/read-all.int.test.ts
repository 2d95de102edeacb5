// readAllFrom never skips an event that commits late. Eight writers append in transactions
// whose commits are randomly delayed, and one of them holds its transaction open until later
// transactions have committed and a naive reader (by global_position alone) has moved past it.
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../test/harness';
import { createEventStore } from './postgres-event-store';
import { type Checkpoint, START, type RecordedEvent } from './types';

// jest.config.js's per-project testTimeout is not applied by Jest: these tests race real
// writers and wait on Temporal, which under load takes longer than Jest's default 5 s.
jest.setTimeout(60_000);

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

it('a reader catching up while 8 writers commit out of order gets every event once, in checkpoint order', async () => {
  const committed = new Set<string>();
  let slowPosition: number | undefined;
  let naiveAfter = 0;
  const naiveSeen = new Set<string>();
  let writing = true;

  // What a reader that checkpoints by global_position alone would see.
  const naiveReader = (async () => {
    while (writing) {
      const { rows } = await t.pool.query<{ event_id: string; global_position: string }>(
        'SELECT event_id, global_position FROM domain_events WHERE global_position > $1 ORDER BY global_position',
        [naiveAfter],
      );
      for (const r of rows) {
        naiveSeen.add(r.event_id);
        naiveAfter = Math.max(naiveAfter, Number(r.global_position));
      }
      await sleep(5);
    }
  })();

  const read: RecordedEvent[] = [];
  const reader = (async () => {
    let checkpoint: Checkpoint = START;
    // An empty batch means "nothing readable yet" (any open transaction in the cluster holds
    // the bound back), so the reader stops once it has caught up with every commit, then
    // checks that nothing more comes.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const caughtUp = !writing && read.length >= committed.size;
      const batch = await t.store.readAllFrom(checkpoint, 7);
      read.push(...batch.events);
      checkpoint = batch.checkpoint;
      if (batch.events.length === 0) {
        if (caughtUp) return;
        if (Date.now() > deadline) throw new Error('reader did not catch up');
        await sleep(3);
      }
    }
  })();

  // A stream per writer: each writer's transactions follow one another, so each stream's
  // events must also come out in version order.
  const streams = Array.from({ length: 8 }, () => ({ type: 'Race', id: randomUUID() }));
  const writer = async (w: number) => {
    for (let i = 0; i < 20; i++) {
      const ids = await t.store.db.transaction().execute(async (trx) => {
        const store = createEventStore(trx);
        const count = 1 + Math.floor(Math.random() * 3);
        const result = await store.appendToStream(
          streams[w]!,
          i === 0 ? 'no_stream' : 'stream_exists',
          Array.from({ length: count }, (_, k) => ({ type: 'Wrote', data: { w, i, k } })),
        );
        if (w === 0 && i === 0) {
          // The slow writer: commit only after later transactions did and the naive reader
          // moved past this event's position.
          slowPosition = result.positions[0]!.globalPosition;
          await until(
            () => committed.size >= 30 && naiveAfter > slowPosition!,
            'later commits to pass the open transaction',
          );
        } else {
          await sleep(Math.random() * 15);
        }
        return result.positions.map((p) => p.eventId);
      });
      for (const id of ids) committed.add(id);
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
  writing = false;
  await Promise.all([reader, naiveReader]);

  // The scenario happened: a position-only reader skipped the late event for good.
  expect(naiveSeen.size).toBeLessThan(committed.size);

  const ids = read.map((e) => e.eventId);
  expect(new Set(ids).size).toBe(ids.length);
  expect(new Set(ids)).toEqual(committed);
  for (let i = 1; i < read.length; i++) {
    const a = read[i - 1]!;
    const b = read[i]!;
    const ordered =
      BigInt(a.transactionId) < BigInt(b.transactionId) ||
      (a.transactionId === b.transactionId && a.globalPosition < b.globalPosition);
    expect(ordered).toBe(true);
  }
  // Each stream's events arrive in version order.
  for (const s of streams) {
    const versions = read.filter((e) => e.streamId === s.id).map((e) => e.version);
    expect(versions).toEqual(versions.map((_, i) => i + 1));
  }
});

it('a read longer than one page returns the log in order, each event once, up to its limit', async () => {
  // readAllFrom fetches a large read in pages of 1,000 rows: 2,600 events are read 2,500 at a
  // time, across page boundaries that fall inside one transaction's events.
  for (let s = 0; s < 26; s++)
    await t.store.appendToStream(
      { type: 'Paged', id: `paged-${randomUUID()}` },
      'no_stream',
      Array.from({ length: 100 }, (_, k) => ({ type: 'Wrote', data: { s, k } })),
    );
  const { rows } = await t.pool.query<{ event_id: string }>(
    'SELECT event_id FROM domain_events ORDER BY transaction_id, global_position',
  );
  const read: string[] = [];
  let checkpoint: Checkpoint = START;
  for (;;) {
    const batch = await t.store.readAllFrom(checkpoint, 2500);
    expect(batch.events.length).toBe(Math.min(2500, rows.length - read.length));
    if (batch.events.length === 0) break;
    const last = batch.events[batch.events.length - 1]!;
    expect(batch.checkpoint).toEqual({
      transactionId: last.transactionId,
      globalPosition: last.globalPosition,
    });
    read.push(...batch.events.map((e) => e.eventId));
    checkpoint = batch.checkpoint;
  }
  expect(rows.length).toBeGreaterThanOrEqual(2600);
  expect(read).toEqual(rows.map((r) => r.event_id));
});
