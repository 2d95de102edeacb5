// The Postgres store against the EventStore contract (the in-memory store passes the same spec in
// in-memory-event-store.test.ts).
import { createTestDatabase, type TestDatabase } from '../test/harness';
import { eventStoreContract } from '../test/event-store.contract';
import { createEventStore } from './postgres-event-store';

jest.setTimeout(60_000);

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.close());

eventStoreContract('Postgres', (options) => createEventStore(t.db, options));
