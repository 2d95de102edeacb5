// The shared log reader, over an in-memory log: projections at the same checkpoint share a
// read, the next full batch is read ahead, and a short batch at the head is never reused.
import type { Checkpoint, RecordedEvent } from '../eventstore';
import { type LogBatch, LogReader } from './log-reader';

function memoryLog(size: number) {
  const events = Array.from(
    { length: size },
    (_, i) => ({ globalPosition: i + 1, transactionId: '1' }) as RecordedEvent,
  );
  const reads: number[] = [];
  const readAll = async (after: Checkpoint, limit: number): Promise<LogBatch> => {
    reads.push(after.globalPosition);
    const batch = events.filter((e) => e.globalPosition > after.globalPosition).slice(0, limit);
    const last = batch[batch.length - 1];
    return {
      events: batch,
      checkpoint: last ? { transactionId: '1', globalPosition: last.globalPosition } : after,
    };
  };
  return { events, reads, readAll };
}

const at = (globalPosition: number): Checkpoint => ({ transactionId: '1', globalPosition });
const flush = () => new Promise((resolve) => setImmediate(resolve));

test('readers at the same checkpoint share one read, and the next batch is read ahead', async () => {
  const log = memoryLog(25);
  const reader = new LogReader(log.readAll, 10);
  const [a, b] = await Promise.all([reader.read(at(0)), reader.read(at(0))]);
  expect(a).toBe(b);
  await flush();
  expect(log.reads).toEqual([0, 10]);
  const next = await reader.read(at(10));
  expect(next.events.map((e) => e.globalPosition)).toEqual([
    11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
  ]);
  await flush();
  expect(log.reads).toEqual([0, 10, 20]);
});

test('a short batch at the head is read again, so new events are seen', async () => {
  const log = memoryLog(5);
  const reader = new LogReader(log.readAll, 10);
  expect((await reader.read(at(0))).events).toHaveLength(5);
  log.events.push({ globalPosition: 6, transactionId: '1' } as RecordedEvent);
  expect((await reader.read(at(0))).events).toHaveLength(6);
  expect(log.reads).toEqual([0, 0]);
});
