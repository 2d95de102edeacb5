// POST /orders under client retries, against the real Temporal dev server and Postgres: an
// Idempotency-Key names the order, so a retry meets the saga its first attempt started; a
// second start of an order id with other content is a 409; and no request waits on Temporal
// past its deadline.
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import type express from 'express';
import request from 'supertest';
import { createOrderClient, ORDER_CONTENT_MEMO, orderContentHash } from '../client/order-client';
import { createDataConverter } from '../temporal/data-converter';
import {
  createTestDatabase,
  eventually,
  startTestWorker,
  type TestDatabase,
  type TestWorker,
} from '../test/harness';
import { createApp } from './app';

jest.setTimeout(120_000);

let t: TestDatabase;
let worker: TestWorker;
let app: express.Express;

beforeAll(async () => {
  t = await createTestDatabase();
  worker = await startTestWorker(t.store);
  app = createApp({ readDb: t.db, store: t.store, orders: worker.orders });
});

afterAll(async () => {
  await worker?.stop();
  await t?.close();
});

const order = (productId = `sku-${randomUUID()}`, quantity = 1) => ({
  customerId: 'customer-idem',
  items: [{ productId, quantity, unitPriceCents: 250 }],
});

const post = (body: object, headers: Record<string, string> = {}) =>
  request(app).post('/orders').set(headers).send(body);

/** Runs of a workflow id in Temporal's visibility store (eventually consistent: waits for one). */
function sagaRuns(workflowId: string): Promise<number> {
  return eventually(async () => {
    let runs = 0;
    for await (const _ of worker.client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
      runs += 1;
    return runs > 0 ? runs : undefined;
  });
}

describe('Idempotency-Key without an orderId', () => {
  test('a retried request meets the saga of the first attempt: same order id, same run', async () => {
    const key = `key-${randomUUID()}`;
    const body = order();
    const first = await post(body, { 'idempotency-key': key, 'x-correlation-id': 'try-1' });
    expect(first.status).toBe(202);
    const retry = await post(body, { 'idempotency-key': key, 'x-correlation-id': 'try-2' });
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual(first.body);
    expect(first.body.orderId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-/);
    expect(first.body.workflowId).toBe(`order-${first.body.orderId}`);

    // After the saga has closed, the retry still finds it (REJECT_DUPLICATE keeps the id).
    await worker.orders.result(first.body.orderId);
    const late = await post(body, { 'idempotency-key': key });
    expect(late.status).toBe(202);
    expect(late.body.runId).toBe(first.body.runId);
    expect(await sagaRuns(first.body.workflowId)).toBe(1);

    // Another key is another order.
    const other = await post(body, { 'idempotency-key': `key-${randomUUID()}` }).expect(202);
    expect(other.body.orderId).not.toBe(first.body.orderId);
    // No key, no orderId: each request is a new order, as before.
    const a = await post(body).expect(202);
    const b = await post(body).expect(202);
    expect(a.body.orderId).not.toBe(b.body.orderId);
  });

  test('the same key with other content is refused with 409, running or closed', async () => {
    const key = `key-${randomUUID()}`;
    const first = await post(order('sku-a', 1), { 'idempotency-key': key }).expect(202);
    const changed = await post(order('sku-a', 2), { 'idempotency-key': key });
    expect(changed.status).toBe(409);
    expect(changed.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(changed.body).toMatchObject({ status: 409, code: 'ORDER_ALREADY_EXISTS' });
    expect(changed.body.detail).toContain(first.body.orderId);
    await worker.orders.result(first.body.orderId);
    await post(order('sku-b', 1), { 'idempotency-key': key }).expect(409);
    await post(order('sku-a', 1), { 'idempotency-key': key }).expect(202);
  });

  test('a malformed key is a 400, and no saga starts', async () => {
    const res = await post(order(), { 'idempotency-key': 'has space' });
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain('printable ASCII');
  });
});

describe('a duplicate start of an explicit orderId', () => {
  test('same content (key order of the address aside) is the same order; other content is 409', async () => {
    const orderId = `dup-${randomUUID()}`;
    const body = { ...order('sku-c', 3), orderId, shippingAddress: { city: 'Oslo', zip: '0150' } };
    const first = await post(body).expect(202);
    const same = await post({ ...body, shippingAddress: { zip: '0150', city: 'Oslo' } }).expect(
      202,
    );
    expect(same.body.runId).toBe(first.body.runId);
    for (const changed of [
      { ...body, customerId: 'someone-else' },
      { ...body, currency: 'EUR' },
      { ...body, items: [{ productId: 'sku-c', quantity: 3, unitPriceCents: 1 }] },
      { ...body, shippingAddress: { city: 'Bergen', zip: '5003' } },
    ]) {
      const res = await post(changed);
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('ORDER_ALREADY_EXISTS');
    }
    expect(await sagaRuns(first.body.workflowId)).toBe(1);
  });

  test('a saga started without the content memo is compared by the input in its history', async () => {
    const orderId = `legacy-${randomUUID()}`;
    const body = order('sku-d', 2);
    // As a client before the memo existed (or the Temporal CLI) would start it; on a task queue
    // nobody polls, so its order is not yet in the event store and the start meets the saga.
    const legacy = await worker.client.workflow.start('orderSaga', {
      workflowId: `order-${orderId}`,
      taskQueue: `nobody-${randomUUID()}`,
      args: [
        {
          orderId,
          ...body,
          currency: 'USD',
          shippingAddress: null,
          paymentConfirmationThresholdCents: 100_000,
          paymentConfirmationTimeoutMs: 10_000,
          correlationId: 'legacy',
        },
      ],
    });
    expect((await legacy.describe()).memo?.[ORDER_CONTENT_MEMO]).toBeUndefined();
    const same = await post({ ...body, orderId }).expect(202);
    expect(same.body.runId).toBe(legacy.firstExecutionRunId);
    await post({ ...order('sku-d', 5), orderId }).expect(409);
    await legacy.terminate('test done');
  });

  test('the input of a memo-less saga is decoded with the client codecs (encrypted payloads)', async () => {
    const encrypted = new Client({
      connection: worker.client.connection,
      namespace: 'default',
      dataConverter: createDataConverter({ encryptionKey: randomBytes(32) }),
    });
    const orderId = `legacy-enc-${randomUUID()}`;
    const body = order('sku-g', 1);
    const legacy = await encrypted.workflow.start('orderSaga', {
      workflowId: `order-${orderId}`,
      taskQueue: `nobody-${randomUUID()}`,
      args: [
        {
          orderId,
          ...body,
          currency: 'USD',
          shippingAddress: null,
          paymentConfirmationThresholdCents: 100_000,
          paymentConfirmationTimeoutMs: 10_000,
          correlationId: 'legacy',
        },
      ],
    });
    try {
      const orders = createOrderClient(encrypted, {
        taskQueue: worker.taskQueue,
        paymentConfirmationThresholdCents: 100_000,
        paymentConfirmationTimeoutMs: 10_000,
      });
      await expect(orders.start({ ...body, orderId })).resolves.toMatchObject({
        started: false,
        runId: legacy.firstExecutionRunId,
      });
      await expect(orders.start({ ...order('sku-g', 2), orderId })).rejects.toMatchObject({
        code: 'ORDER_ALREADY_EXISTS',
      });
    } finally {
      await legacy.terminate('test done');
    }
  });

  test('the content hash ignores what is not the order (correlation id, saga settings)', () => {
    const base = {
      customerId: 'c',
      currency: 'USD',
      items: order('x').items,
      shippingAddress: null,
    };
    expect(orderContentHash(base)).toBe(orderContentHash({ ...base, shippingAddress: undefined }));
    expect(orderContentHash(base)).not.toBe(orderContentHash({ ...base, currency: 'EUR' }));
  });
});

describe('deadlines on Temporal calls', () => {
  test('a request whose saga no worker runs answers 504 at the deadline instead of hanging', async () => {
    // A task queue nobody polls: the start is accepted, but an update waits for a worker.
    const orphan = createOrderClient(worker.client, {
      taskQueue: `nobody-${randomUUID()}`,
      paymentConfirmationThresholdCents: 100_000,
      paymentConfirmationTimeoutMs: 10_000,
    });
    const deadlineApp = createApp({
      readDb: t.db,
      store: t.store,
      orders: orphan,
      temporalCallTimeoutMs: 1_000,
    });
    const orderId = `stuck-${randomUUID()}`;
    await request(deadlineApp)
      .post('/orders')
      .send({ ...order('sku-e'), orderId })
      .expect(202);
    try {
      const started = Date.now();
      const res = await request(deadlineApp)
        .post(`/orders/${orderId}/items`)
        .send({ productId: 'sku-f', quantity: 1, unitPriceCents: 10 });
      const elapsed = Date.now() - started;
      expect(res.status).toBe(504);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers['retry-after']).toBe('1');
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(10_000);
    } finally {
      await worker.client.workflow.getHandle(`order-${orderId}`).terminate('test done');
    }
  });
});
