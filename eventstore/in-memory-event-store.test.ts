// The in-memory store against the EventStore contract (the Postgres store passes the same spec in
// postgres-event-store.int.test.ts).
import { eventStoreContract } from '../test/event-store.contract';
import { createInMemoryEventStore } from './in-memory-event-store';

eventStoreContract('in memory', (options) => createInMemoryEventStore(options));

it('stamps events with its clock and keeps what callers later change out of the log', async () => {
  const at = new Date('2030-01-02T03:04:05Z');
  const store = createInMemoryEventStore({ now: () => at });
  const data = { lines: [1] };
  await store.appendToStream({ type: 'T', id: '1' }, 'no_stream', [{ type: 'E', data }]);
  data.lines.push(2);
  const [read] = await store.readStream({ type: 'T', id: '1' });
  expect(read).toMatchObject({ createdAt: at, data: { lines: [1] } });
  (read!.data as { lines: number[] }).lines.push(3);
  expect((await store.readStream({ type: 'T', id: '1' }))[0]!.data).toEqual({ lines: [1] });
});
