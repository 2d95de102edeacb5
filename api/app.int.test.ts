// The HTTP API through supertest on createApp, against the real Postgres (read models filled
// through the event store and the projection runner) and the real Temporal dev server.
import request from 'supertest';
import type express from 'express';
import { createMetrics } from '../observability/metrics';
import { registerProjectionGauges } from '../monitors/projection-gauges';
import { allProjections, ProjectionRunner } from '../projections';
import { appendHistory } from '../test/sample-history';
import { referenceRows } from '../test/sql-fold';
import {
  refuseWrites,
  createTestDatabase,
  eventually,
  startTestWorker,
  type TestDatabase,
  type TestWorker,
} from '../test/harness';
import { createApp } from './app';

jest.setTimeout(120_000);

const TOKEN = 'test-token';
const auth = { authorization: `Bearer ${TOKEN}` };
let t: TestDatabase;
let worker: TestWorker;
let runner: ProjectionRunner;
let app: express.Express;

async function caughtUp(): Promise<void> {
  await eventually(async () => {
    const { rows } = await t.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM projection_checkpoints c WHERE NOT EXISTS (
         SELECT 1 FROM domain_events e
         WHERE (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position))`,
    );
    return Number(rows[0]!.n) === allProjections.length ? true : undefined;
  });
}

beforeAll(async () => {
  t = await createTestDatabase();
  await appendHistory(t.store, { orders: 30 });
  const metrics = createMetrics({ defaultMetrics: false });
  registerProjectionGauges(metrics.registry, t.db);
  worker = await startTestWorker(t.store);
  runner = new ProjectionRunner({
    databaseUrl: t.url,
    store: t.store,
    projections: allProjections,
    pollIntervalMs: 200,
    onBatch: metrics.onBatch,
  });
  await runner.start();
  await caughtUp();
  app = createApp({
    readDb: t.db,
    store: t.store,
    orders: worker.orders,
    apiToken: TOKEN,
    metrics,
  });
});

afterAll(async () => {
  await runner?.stop();
  await worker?.stop();
  await t?.close();
});

describe('reads', () => {
  test('GET /orders/:id gives the order, with an ETag that If-None-Match turns into 304', async () => {
    const res = await request(app).get('/orders/order-1').set(auth).expect(200);
    expect(res.body).toMatchObject({
      id: 'order-1',
      customerId: 'customer-1',
      status: 'completed',
      currency: 'USD',
      version: expect.any(Number),
    });
    expect(res.body.totalAmountCents).toBeGreaterThan(0);
    const etag = res.headers.etag as string;
    expect(etag).toBeTruthy();
    await request(app).get('/orders/order-1').set(auth).set('if-none-match', etag).expect(304);
    await request(app).get('/orders/order-0').set(auth).set('if-none-match', etag).expect(200);
  });

  test('lists page with a capped limit and give the total', async () => {
    const page = await request(app)
      .get('/orders?status=completed&limit=5&offset=2')
      .set(auth)
      .expect(200);
    expect(page.body.items).toHaveLength(5);
    expect(page.body).toMatchObject({ limit: 5, offset: 2 });
    expect(page.body.items.every((o: { status: string }) => o.status === 'completed')).toBe(true);
    const { rows } = await t.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM read_models.orders WHERE status = 'completed'`,
    );
    expect(page.body.total).toBe(Number(rows[0]!.n));
    const capped = await request(app).get('/orders?limit=100000').set(auth).expect(200);
    expect(capped.body.limit).toBe(100);
    expect(capped.body.items).toHaveLength(30);

    const mine = await request(app).get('/customers/customer-3/orders').set(auth).expect(200);
    expect(mine.body.total).toBeGreaterThan(0);
    expect(
      mine.body.items.every((o: { customerId: string }) => o.customerId === 'customer-3'),
    ).toBe(true);
    const items = await request(app).get('/orders/order-2/items').set(auth).expect(200);
    expect(items.body.items).toHaveLength(3);
    expect(items.body.items[0]).toMatchObject({ lineNo: 2, productId: 'product-2' });
    await request(app).get('/orders/nope/items').set(auth).expect(404);
  });

  test('stats, inventory, credit and projections match the read models', async () => {
    const stats = await request(app).get('/stats/orders').set(auth).expect(200);
    const reference = (await referenceRows(t.pool, 'order_stats')).map(
      (j) => JSON.parse(j) as { status: string; count: number; revenue: number },
    );
    for (const r of reference)
      expect(stats.body[r.status]).toEqual({ count: r.count, revenueCents: r.revenue });
    const product = await request(app).get('/products/product-1').set(auth).expect(200);
    expect(product.body.available).toBe(product.body.onHand - product.body.reserved);
    const credit = await request(app).get('/customers/customer-1/credit').set(auth).expect(200);
    expect(credit.body.availableCents + credit.body.spentCents).toBe(10_000_000);
    await request(app).get('/products/nope').set(auth).expect(404);
    await request(app).get('/customers/nope/credit').set(auth).expect(404);
    const projections = await request(app).get('/projections').set(auth).expect(200);
    expect(projections.body.items.map((p: { name: string }) => p.name).sort()).toEqual([
      'customer_credit',
      'inventory',
      'orders',
    ]);
    expect(projections.body.items.every((p: { lagEvents: number }) => p.lagEvents === 0)).toBe(
      true,
    );
  });

  test('minVersion waits for the read model, and says so when it does not get there', async () => {
    await t.store.appendToStream({ type: 'Order', id: 'ryw' }, 'no_stream', [
      {
        type: 'OrderCreated',
        data: {
          order_id: 'ryw',
          customer_id: 'c',
          currency: 'USD',
          shipping_address: null,
          created_at: new Date().toISOString(),
        },
      },
    ]);
    const res = await request(app).get('/orders/ryw?minVersion=1').set(auth).expect(200);
    expect(res.body.version).toBe(1);
    const behind = await request(app)
      .get('/orders/ryw?minVersion=2&waitMs=100')
      .set(auth)
      .expect(409);
    expect(behind.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(behind.body).toMatchObject({
      status: 409,
      code: 'READ_MODEL_BEHIND',
      minVersion: 2,
      currentVersion: 1,
    });
    expect(behind.headers['retry-after']).toBe('1');
  });

  test('health, readiness, OpenAPI and metrics', async () => {
    await request(app).get('/health').expect(200, { status: 'ok' });
    await request(app).get('/ready').expect(200, { status: 'ready' });
    const doc = await request(app).get('/openapi.json').expect(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/orders', '/orders/{id}', '/products/{productId}/restock']),
    );
    const metrics = await request(app).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/projection_lag_events\{projection="orders"\} 0/);
    expect(metrics.text).toMatch(/projection_position\{projection="inventory"\} \d+/);
    expect(metrics.text).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/health",status="200"\} 1/,
    );
  });
});

describe('writes', () => {
  test('an order started over HTTP carries its correlation id into every event', async () => {
    const res = await request(app)
      .post('/orders')
      .set(auth)
      .set('x-correlation-id', 'corr-http-1')
      .send({
        orderId: 'http-1',
        customerId: 'customer-1',
        items: [{ productId: 'product-1', quantity: 2, unitPriceCents: 150 }],
      })
      .expect(202);
    expect(res.body).toMatchObject({ orderId: 'http-1', workflowId: 'order-http-1' });
    expect(res.headers['x-correlation-id']).toBe('corr-http-1');
    // Idempotent on orderId.
    const again = await request(app)
      .post('/orders')
      .set(auth)
      .send({
        orderId: 'http-1',
        customerId: 'customer-1',
        items: [{ productId: 'product-1', quantity: 2, unitPriceCents: 150 }],
      })
      .expect(202);
    expect(again.body.runId).toBe(res.body.runId);
    await worker.orders.result('http-1');
    const order = await request(app)
      .get('/orders/http-1?minVersion=3&waitMs=5000')
      .set(auth)
      .expect(200);
    expect(order.body).toMatchObject({ status: 'completed', totalAmountCents: 300, itemCount: 2 });
    const { rows } = await t.pool.query<{ c: string | null; n: string }>(
      `SELECT metadata->>'correlationId' AS c, count(*) AS n FROM domain_events
       WHERE metadata->>'workflowId' = 'order-http-1' GROUP BY 1`,
    );
    expect(rows).toEqual([{ c: 'corr-http-1', n: expect.any(String) }]);
    expect(Number(rows[0]!.n)).toBeGreaterThanOrEqual(4);
    const saga = await request(app).get('/orders/http-1/saga').set(auth);
    expect([200, 409]).toContain(saga.status);
  });

  test('restock and credit write events; an Idempotency-Key writes once', async () => {
    const first = await request(app)
      .post('/products/new-sku/restock')
      .set(auth)
      .set('idempotency-key', 'k1')
      .send({ quantity: 7 })
      .expect(200);
    expect(first.body).toEqual({
      productId: 'new-sku',
      onHand: 7,
      reserved: 0,
      available: 7,
      version: 1,
    });
    const retry = await request(app)
      .post('/products/new-sku/restock')
      .set(auth)
      .set('idempotency-key', 'k1')
      .send({ quantity: 7 })
      .expect(200);
    expect(retry.body.version).toBe(1);
    const credit = await request(app)
      .post('/customers/new-customer/credit')
      .set(auth)
      .send({ cents: 500 })
      .expect(200);
    expect(credit.body).toEqual({
      customerId: 'new-customer',
      availableCents: 500,
      spentCents: 0,
      version: 1,
    });
    await eventually(async () => {
      const r = await request(app).get('/products/new-sku').set(auth);
      return r.status === 200 && r.body.onHand === 7 ? true : undefined;
    });
    const metrics = await request(app).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/projection_events_applied_total\{projection="inventory"\} \d+/);
  });
});

describe('saga writes', () => {
  test('confirm-payment answers the question; items are idempotent by key and refuse overflow', async () => {
    const product = 'P-http-saga';
    await request(app)
      .post(`/products/${product}/restock`)
      .set(auth)
      .send({ quantity: 5 })
      .expect(200);
    await request(app)
      .post('/customers/c-http-saga/credit')
      .set(auth)
      .send({ cents: 10_000_00 })
      .expect(200);
    // Reservations of the product fail until the trigger goes: the saga stays in reserve.
    const allowReservations = await refuseWrites(
      t.pool,
      'StockReserved',
      product,
      'reservation refused by the test',
    );
    let added: Promise<request.Response>;
    try {
      await request(app)
        .post('/orders')
        .set(auth)
        .send({
          orderId: 'http-saga',
          customerId: 'c-http-saga',
          items: [{ productId: product, quantity: 1, unitPriceCents: 150_000 }],
        })
        .expect(202);
      await eventually(async () =>
        (await worker.orders.state('http-saga')).step === 'reserve_inventory' ? true : undefined,
      );
      // Early: refused, 409.
      const early = await request(app)
        .post('/orders/http-saga/confirm-payment')
        .set(auth)
        .send({ amountCents: 150_000 })
        .expect(409);
      expect(early.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(early.body.code).toBe('PAYMENT_CONFIRMATION_NOT_AWAITED');
      // A line that takes the total past 2^53 cents: refused at once.
      const overflow = await request(app)
        .post('/orders/http-saga/items')
        .set(auth)
        .send({ productId: product, quantity: 1, unitPriceCents: Number.MAX_SAFE_INTEGER - 100 })
        .expect(400);
      expect(overflow.body.detail).toMatch(/order total would exceed/);
      // A line with an Idempotency-Key, applied once the reservation step lets it in.
      added = request(app)
        .post('/orders/http-saga/items')
        .set(auth)
        .set('idempotency-key', 'add-mug-1')
        .send({ productId: product, quantity: 1, unitPriceCents: 100 })
        .then((r) => r);
      // Unblock once the saga has accepted the update (its validator ran while pending).
      await eventually(async () =>
        (
          (await worker.client.workflow.getHandle('order-http-saga').fetchHistory()).events ?? []
        ).some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)
          ? true
          : undefined,
      );
    } finally {
      await allowReservations();
    }
    const first = await added;
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ totalCents: 150_100 });
    // The client retries the same request: the same answer, no second line.
    const retried = await request(app)
      .post('/orders/http-saga/items')
      .set(auth)
      .set('idempotency-key', 'add-mug-1')
      .send({ productId: product, quantity: 1, unitPriceCents: 100 })
      .expect(200);
    expect(retried.body).toEqual(first.body);

    await eventually(async () =>
      (await worker.orders.state('http-saga')).status === 'awaiting_payment_confirmation'
        ? true
        : undefined,
    );
    const wrong = await request(app)
      .post('/orders/http-saga/confirm-payment')
      .set(auth)
      .send({ amountCents: 150_000 })
      .expect(409);
    expect(wrong.body.code).toBe('PAYMENT_AMOUNT_MISMATCH');
    const confirmed = await request(app)
      .post('/orders/http-saga/confirm-payment')
      .set(auth)
      .send({ amountCents: 150_100 })
      .expect(200);
    expect(confirmed.body).toEqual({
      orderId: 'http-saga',
      amountCents: 150_100,
      status: 'confirmed',
    });
    await expect(worker.orders.result('http-saga')).resolves.toMatchObject({ status: 'completed' });
    const { rows } = await t.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM domain_events WHERE aggregate_id = 'http-saga' AND event_type = 'OrderItemAdded'`,
    );
    expect(Number(rows[0]!.n)).toBe(2);
    // Done: no more cancelling.
    const late = await request(app).post('/orders/http-saga/cancel').set(auth).send({}).expect(409);
    expect(late.body.code).toBe('SAGA_FINISHED');
  });

  test.each([
    ['with a reason', 'http-cancel', { reason: 'changed my mind' }, 'cancelled: changed my mind'],
    ['with no body', 'http-cancel-bare', undefined, 'cancelled: requested by the customer'],
  ])('cancel %s says it took effect', async (_, orderId, body, reason) => {
    await request(app)
      .post(`/customers/c-${orderId}/credit`)
      .set(auth)
      .send({ cents: 10_000_00 })
      .expect(200);
    await request(app)
      .post(`/products/P-${orderId}/restock`)
      .set(auth)
      .send({ quantity: 5 })
      .expect(200);
    await request(app)
      .post('/orders')
      .set(auth)
      .send({
        orderId,
        customerId: `c-${orderId}`,
        items: [{ productId: `P-${orderId}`, quantity: 1, unitPriceCents: 150_000 }],
      })
      .expect(202);
    await eventually(async () =>
      (await worker.orders.state(orderId)).status === 'awaiting_payment_confirmation'
        ? true
        : undefined,
    );
    const cancel = request(app).post(`/orders/${orderId}/cancel`).set(auth);
    const res = await (body === undefined ? cancel : cancel.send(body)).expect(200);
    expect(res.body).toMatchObject({ orderId, outcome: 'cancelled' });
    await expect(worker.orders.result(orderId)).resolves.toMatchObject({
      status: 'cancelled',
      reason,
    });
  });
});

describe('bad inputs get a 4xx problem+json, never a 500', () => {
  const order = {
    customerId: 'c1',
    items: [{ productId: 'p1', quantity: 1, unitPriceCents: 100 }],
  };
  const withItems = (item: Record<string, unknown>) => ({
    ...order,
    items: [{ ...order.items[0], ...item }],
  });
  type Case = {
    name: string;
    method?: 'get' | 'post';
    path: string;
    body?: string | Buffer | object;
    headers?: Record<string, string>;
    status: number | number[];
  };
  const json = { 'content-type': 'application/json' };
  const cases: Case[] = [
    { name: 'malformed JSON', path: '/orders', body: '{"customerId":', headers: json, status: 400 },
    { name: 'wrong types', path: '/orders', body: { ...order, customerId: 5 }, status: 400 },
    { name: 'items not an array', path: '/orders', body: { ...order, items: 'many' }, status: 400 },
    { name: 'negative quantity', path: '/orders', body: withItems({ quantity: -1 }), status: 400 },
    {
      name: 'fractional quantity',
      path: '/orders',
      body: withItems({ quantity: 1.5 }),
      status: 400,
    },
    { name: 'zero quantity', path: '/orders', body: withItems({ quantity: 0 }), status: 400 },
    {
      name: 'negative price',
      path: '/orders',
      body: withItems({ unitPriceCents: -5 }),
      status: 400,
    },
    {
      name: 'number past 2^53',
      path: '/orders',
      body: '{"customerId":"c1","items":[{"productId":"p1","quantity":1,"unitPriceCents":9007199254740993}]}',
      headers: json,
      status: 400,
    },
    {
      name: 'number past float range',
      path: '/orders',
      body: '{"customerId":"c1","items":[{"productId":"p1","quantity":1e400,"unitPriceCents":1}]}',
      headers: json,
      status: 400,
    },
    { name: 'empty item list', path: '/orders', body: { ...order, items: [] }, status: 400 },
    {
      name: '10,000 items',
      path: '/orders',
      body: { ...order, items: Array.from({ length: 10_000 }, () => order.items[0]) },
      status: [400, 413],
    },
    {
      name: '101 items (under the body limit)',
      path: '/orders',
      body: { ...order, items: Array.from({ length: 101 }, () => order.items[0]) },
      status: 400,
    },
    { name: 'unknown field', path: '/orders', body: { ...order, admin: true }, status: 400 },
    { name: 'unknown item field', path: '/orders', body: withItems({ discount: 5 }), status: 400 },
    { name: 'array body', path: '/orders', body: '[]', headers: json, status: 400 },
    { name: 'null body', path: '/orders', body: 'null', headers: json, status: 400 },
    {
      name: 'SQL in a body id',
      path: '/orders',
      body: { ...order, customerId: "x'; DROP TABLE read_models.orders; --" },
      status: 400,
    },
    { name: 'SQL in a path id', method: 'get', path: "/orders/1'%20OR%20'1'%3D'1", status: 400 },
    { name: 'SQL in a query', method: 'get', path: "/orders?status=completed'--", status: 400 },
    { name: 'very long path id', method: 'get', path: `/orders/${'a'.repeat(5000)}`, status: 400 },
    {
      name: 'very long body id',
      path: '/orders',
      body: { ...order, orderId: 'a'.repeat(129) },
      status: 400,
    },
    {
      name: 'non-UTF-8 bytes in the body',
      path: '/orders',
      body: Buffer.concat([
        Buffer.from('{"customerId":"c1","items":[{"productId":"p'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('","quantity":1,"unitPriceCents":1}]}'),
      ]),
      headers: json,
      status: 400,
    },
    {
      name: 'non-UTF-8 bytes in a reason',
      path: '/orders/x/cancel',
      body: Buffer.concat([
        Buffer.from('{"reason":"'),
        Buffer.from([0xc3, 0x28]),
        Buffer.from('"}'),
      ]),
      headers: json,
      status: 400,
    },
    { name: 'non-UTF-8 escape in the path', method: 'get', path: '/orders/%FF%FE', status: 400 },
    {
      name: 'body over the limit',
      path: '/orders',
      body: { ...order, shippingAddress: { line: 'x'.repeat(200_000) } },
      status: 413,
    },
    {
      name: 'not JSON',
      path: '/orders',
      body: 'customerId=c1',
      headers: { 'content-type': 'text/plain' },
      status: 415,
    },
    {
      name: 'missing token',
      path: '/orders',
      body: order,
      headers: { authorization: '' },
      status: 401,
    },
    {
      name: 'wrong token',
      path: '/orders',
      body: order,
      headers: { authorization: 'Bearer nope' },
      status: 401,
    },
    {
      name: 'token without Bearer',
      path: '/orders',
      body: order,
      headers: { authorization: TOKEN },
      status: 401,
    },
    { name: 'limit not a number', method: 'get', path: '/orders?limit=abc', status: 400 },
    { name: 'negative limit', method: 'get', path: '/orders?limit=-1', status: 400 },
    {
      name: 'limit past 2^53',
      method: 'get',
      path: '/orders?limit=99999999999999999999',
      status: 400,
    },
    { name: 'offset in exponent form', method: 'get', path: '/orders?offset=1e3', status: 400 },
    { name: 'offset too deep', method: 'get', path: '/orders?offset=100000000', status: 400 },
    {
      name: 'repeated query key',
      method: 'get',
      path: '/orders?status=pending&status=completed',
      status: 400,
    },
    { name: 'unknown status', method: 'get', path: '/orders?status=shipped', status: 400 },
    { name: 'unknown query field', method: 'get', path: '/orders/order-1?debug=1', status: 400 },
    {
      name: 'minVersion not a number',
      method: 'get',
      path: '/orders/order-1?minVersion=x',
      status: 400,
    },
    { name: 'minVersion zero', method: 'get', path: '/orders/order-1?minVersion=0', status: 400 },
    {
      name: 'waitMs too long',
      method: 'get',
      path: '/orders/order-1?minVersion=1&waitMs=600000',
      status: 400,
    },
    { name: 'restock zero', path: '/products/p1/restock', body: { quantity: 0 }, status: 400 },
    {
      name: 'restock as a string',
      path: '/products/p1/restock',
      body: { quantity: '5' },
      status: 400,
    },
    { name: 'credit fractional', path: '/customers/c1/credit', body: { cents: 0.5 }, status: 400 },
    {
      name: 'credit past 2^53',
      path: '/customers/c1/credit',
      body: '{"cents":18014398509481984}',
      headers: json,
      status: 400,
    },
    {
      name: 'idempotency key with spaces',
      path: '/products/p1/restock',
      body: { quantity: 1 },
      headers: { 'idempotency-key': 'a b' },
      status: 400,
    },
    {
      name: 'cancel with unknown field',
      path: '/orders/x/cancel',
      body: { why: 'x' },
      status: 400,
    },
    {
      name: 'cancel an unknown order',
      path: '/orders/no-such-order/cancel',
      body: {},
      status: 404,
    },
    {
      name: 'confirm an unknown order',
      path: '/orders/no-such-order/confirm-payment',
      body: { amountCents: 100 },
      status: 404,
    },
    {
      name: 'confirm without the amount',
      path: '/orders/x/confirm-payment',
      body: {},
      status: 400,
    },
    {
      name: 'confirm a fractional amount',
      path: '/orders/x/confirm-payment',
      body: { amountCents: 10.5 },
      status: 400,
    },
    {
      name: 'cancel with a reason that is not a string',
      path: '/orders/x/cancel',
      body: { reason: { text: 'no' } },
      status: 400,
    },
    {
      name: 'skip a compensation without a reason',
      path: '/orders/x/compensations/skip',
      body: { compensation: 'cancelOrder' },
      status: 400,
    },
    {
      name: 'add an item to an unknown order',
      path: '/orders/no-such-order/items',
      body: order.items[0]!,
      status: 404,
    },
    {
      name: 'add a bad item',
      path: '/orders/x/items',
      body: { productId: 'p', quantity: -2, unitPriceCents: 1 },
      status: 400,
    },
    {
      name: 'saga of an unknown order',
      method: 'get',
      path: '/orders/no-such-order/saga',
      status: 404,
    },
    { name: 'unknown route', method: 'get', path: '/admin', status: 404 },
    { name: 'unknown order', method: 'get', path: '/orders/no-such-order', status: 404 },
  ];

  test.each(cases)('$name', async (c) => {
    let req = request(app)[c.method ?? 'post'](c.path);
    req = req.set({ ...auth, ...(c.headers ?? {}) });
    if (c.body !== undefined) req = req.send(c.body as object);
    const res = await req;
    const statuses = Array.isArray(c.status) ? c.status : [c.status];
    expect(statuses).toContain(res.status);
    expect(res.body).toEqual(
      expect.objectContaining({
        status: res.status,
        title: expect.any(String),
        detail: expect.any(String),
      }),
    );
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.stringify(res.body)).not.toMatch(/ at .*\.(ts|js):\d+/);
  });
});
