// Who may read, write and scrape: the API built from the tokens in config (API_TOKEN,
// API_READ_TOKEN, METRICS_TOKEN), driven through supertest against the real Postgres and the
// real Temporal dev server.
import type express from 'express';
import request from 'supertest';
import { loadConfig } from '../config';
import { registerProjectionGauges } from '../monitors/projection-gauges';
import { createMetrics } from '../observability/metrics';
import {
  createTestDatabase,
  startTestWorker,
  type TestDatabase,
  type TestWorker,
} from '../test/harness';
import { createApp } from './app';

jest.setTimeout(120_000);

const WRITE = 'write-token-1';
const READ = 'read-token-1';
const SCRAPE = 'metrics-token-1';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let t: TestDatabase;
let worker: TestWorker;

beforeAll(async () => {
  t = await createTestDatabase();
  worker = await startTestWorker(t.store);
});

afterAll(async () => {
  await worker?.stop();
  await t?.close();
});

/** The app as `npm run api` builds it from this environment. */
function appFor(env: Record<string, string>): express.Express {
  const config = loadConfig(env);
  const metrics = createMetrics({ defaultMetrics: false });
  registerProjectionGauges(metrics.registry, t.db);
  return createApp({
    readDb: t.db,
    store: t.store,
    orders: worker.orders,
    metrics,
    apiToken: config.apiToken,
    apiReadToken: config.apiReadToken,
    metricsToken: config.metricsToken,
  });
}

const reads = [
  '/orders',
  '/orders/no-such-order',
  '/orders/no-such-order/items',
  '/orders/no-such-order/saga',
  '/customers/c1/orders',
  '/customers/c1/credit',
  '/stats/orders',
  '/products/sku-a',
  '/projections',
  '/no-such-route',
];

async function expectUnauthorized(res: request.Response): Promise<void> {
  expect(res.status).toBe(401);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.headers['www-authenticate']).toBe('Bearer');
  expect(res.body).toMatchObject({
    status: 401,
    title: 'Unauthorized',
    detail: expect.any(String),
  });
}

describe('no token configured (the dev default)', () => {
  test('reads, writes and metrics are open', async () => {
    const app = appFor({});
    await request(app).get('/orders').expect(200);
    await request(app).get('/stats/orders').expect(200);
    await request(app).post('/products/sku-a/restock').send({ quantity: 1 }).expect(200);
    await request(app).get('/metrics').expect(200);
  });
});

describe('API_TOKEN and API_READ_TOKEN', () => {
  let app: express.Express;
  beforeAll(() => {
    app = appFor({ API_TOKEN: WRITE, API_READ_TOKEN: READ });
  });

  test.each(reads)('GET %s needs a token, and takes either one', async (path) => {
    await expectUnauthorized(await request(app).get(path));
    await expectUnauthorized(await request(app).get(path).set(bearer('wrong')));
    await expectUnauthorized(await request(app).get(path).set({ authorization: READ }));
    for (const token of [READ, WRITE]) {
      const res = await request(app).get(path).set(bearer(token));
      expect([200, 404]).toContain(res.status);
    }
  });

  test('writes need API_TOKEN: the read token is refused before the body is read', async () => {
    const restock = () => request(app).post('/products/sku-a/restock');
    await expectUnauthorized(await restock().send({ quantity: 1 }));
    await expectUnauthorized(await restock().set(bearer(READ)).send({ quantity: 1 }));
    // A body that is not even JSON gets 401, not 415: nothing is parsed for a stranger.
    await expectUnauthorized(
      await restock().set(bearer(READ)).set('content-type', 'text/plain').send('x'),
    );
    const before = await t.pool.query(`SELECT count(*)::int AS n FROM domain_events`);
    await expectUnauthorized(
      await request(app)
        .post('/orders')
        .set(bearer(READ))
        .send({
          orderId: 'refused-1',
          customerId: 'c1',
          items: [{ productId: 'sku-a', quantity: 1, unitPriceCents: 100 }],
        }),
    );
    await expectUnauthorized(
      await request(app).post('/orders/x/cancel').set(bearer(READ)).send({}),
    );
    const after = await t.pool.query(`SELECT count(*)::int AS n FROM domain_events`);
    expect(after.rows[0].n).toBe(before.rows[0].n);
    await expect(worker.client.workflow.getHandle('order-refused-1').describe()).rejects.toThrow(
      /not found/i,
    );

    const ok = await restock().set(bearer(WRITE)).send({ quantity: 2 }).expect(200);
    expect(ok.body.productId).toBe('sku-a');
  });

  test('/health and /ready stay open; /metrics is open without METRICS_TOKEN', async () => {
    await request(app).get('/health').expect(200, { status: 'ok' });
    await request(app).get('/ready').expect(200, { status: 'ready' });
    const metrics = await request(app).get('/metrics').expect(200);
    expect(metrics.text).toContain('projection_lag_events');
  });
});

describe('API_TOKEN alone', () => {
  test('reads need it too', async () => {
    const app = appFor({ API_TOKEN: WRITE });
    await expectUnauthorized(await request(app).get('/orders'));
    await request(app).get('/orders').set(bearer(WRITE)).expect(200);
  });
});

describe('API_READ_TOKEN alone', () => {
  test('reads need it, and no write is taken from anyone', async () => {
    const app = appFor({ API_READ_TOKEN: READ });
    await expectUnauthorized(await request(app).get('/orders'));
    await request(app).get('/orders').set(bearer(READ)).expect(200);
    const refused = await request(app)
      .post('/products/sku-a/restock')
      .set(bearer(READ))
      .send({ quantity: 1 });
    await expectUnauthorized(refused);
    expect(refused.body.detail).toContain('API_TOKEN is not set');
    await expectUnauthorized(
      await request(app).post('/products/sku-a/restock').send({ quantity: 1 }),
    );
  });
});

describe('METRICS_TOKEN', () => {
  test('/metrics needs exactly that token; the API tokens do not open it', async () => {
    const app = appFor({ API_TOKEN: WRITE, API_READ_TOKEN: READ, METRICS_TOKEN: SCRAPE });
    await expectUnauthorized(await request(app).get('/metrics'));
    await expectUnauthorized(await request(app).get('/metrics').set(bearer(WRITE)));
    await expectUnauthorized(await request(app).get('/metrics').set(bearer(READ)));
    const res = await request(app).get('/metrics').set(bearer(SCRAPE)).expect(200);
    expect(res.text).toContain('projection_lag_events');
    // The scrape token is not a read token.
    await expectUnauthorized(await request(app).get('/orders').set(bearer(SCRAPE)));
    await request(app).get('/health').expect(200);
  });

  test('guards /metrics even when no API token is set', async () => {
    const app = appFor({ METRICS_TOKEN: SCRAPE });
    await expectUnauthorized(await request(app).get('/metrics'));
    await request(app).get('/metrics').set(bearer(SCRAPE)).expect(200);
    await request(app).get('/orders').expect(200);
  });
});
