// With a key configured, the saga's payloads are encrypted in Temporal (the server's history
// holds only ciphertext) while the worker and the codec-aware client read them normally, and
// the event store encrypts the events the saga appends.
import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { ORDER_CONTENT_MEMO } from '../client/order-client';
import { eventStoreOptionsFromConfig } from '../eventstore';
import {
  createTestDatabase,
  startTestWorker,
  type TestDatabase,
  type TestWorker,
} from '../test/harness';
import { createDataConverter } from './data-converter';
import { ENCRYPTED_ENCODING } from './encryption-codec';

// jest.config.js's per-project testTimeout is not applied by Jest: these tests race real
// writers and wait on Temporal, which under load takes longer than Jest's default 5 s.
jest.setTimeout(60_000);

const key = randomBytes(32);
let t: TestDatabase;
let w: TestWorker;
let plain: Client;
beforeAll(async () => {
  t = await createTestDatabase(
    eventStoreOptionsFromConfig({ compression: false, encryptionKey: key, snapshotInterval: 100 }),
  );
  w = await startTestWorker(t.store, {
    dataConverter: createDataConverter({ encryptionKey: key }),
  });
  plain = new Client({
    connection: await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! }),
  });
});
afterAll(async () => {
  await w.stop();
  await plain.connection.close();
  await t.close();
});

const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('latin1');

it('stores only ciphertext in Temporal and in domain_events, and the saga still runs', async () => {
  const customerId = `secret-customer-${randomUUID()}`;
  const started = await w.orders.start({
    customerId,
    // No stock was ever added: the saga fails reservation, compensates and cancels the order.
    items: [{ productId: `SKU-${randomUUID()}`, quantity: 1, unitPriceCents: 1234 }],
  });
  await w.client.workflow.getHandle(started.workflowId).result();

  // The codec-aware client decodes the saga's state; a plain client sees only ciphertext.
  const history = await plain.workflow.getHandle(started.workflowId).fetchHistory();
  const payloads: Payload[] = [];
  for (const event of history.events ?? []) {
    const attrs = [
      event.workflowExecutionStartedEventAttributes?.input,
      event.activityTaskScheduledEventAttributes?.input,
      event.workflowExecutionCompletedEventAttributes?.result,
      event.activityTaskCompletedEventAttributes?.result,
    ];
    for (const a of attrs) payloads.push(...((a?.payloads ?? []) as Payload[]));
  }
  expect(payloads.length).toBeGreaterThanOrEqual(3);
  for (const p of payloads) {
    expect(text(p.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(p.data)).not.toContain(customerId);
  }
  // The memo (the content hash a duplicate start is compared with) is ciphertext too.
  const memo = history.events?.[0]?.workflowExecutionStartedEventAttributes?.memo?.fields ?? {};
  expect(Object.keys(memo)).toEqual([ORDER_CONTENT_MEMO]);
  for (const p of Object.values(memo)) {
    expect(text(p.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
  }

  const { rows } = await t.pool.query<{ codec: string; bytes: Buffer | null }>(
    `SELECT codec, event_data_bytes AS bytes FROM domain_events WHERE aggregate_id = $1`,
    [started.orderId],
  );
  expect(rows.length).toBeGreaterThanOrEqual(2);
  for (const row of rows) {
    expect(row.codec).toBe('aes-256-gcm-v2');
    expect(row.bytes!.toString('latin1')).not.toContain(customerId);
  }
  const events = await t.store.readStream({ type: 'Order', id: started.orderId });
  expect(events.map((e) => e.type)).toEqual(
    expect.arrayContaining(['OrderCreated', 'OrderCancelled']),
  );
  expect(events[0]!.data).toMatchObject({ customer_id: customerId });
});
