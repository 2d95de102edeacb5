// The operations page in a real browser (Debian's chromium driven by playwright-core) against
// the real stack: an order placed through the API appears with its status without a reload,
// and a saga parked in compensation_failed is listed and retried from its button.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium, type Page } from 'playwright-core';
import request from 'supertest';
import { createChangeFeed, type ChangeFeed } from '../../monitors/change-feed';
import { allProjections, ProjectionRunner } from '../../projections';
import { appendHistory } from '../../test/sample-history';
import {
  refuseWrites,
  createTestDatabase,
  eventually,
  startTestWorker,
  type TestDatabase,
  type TestWorker,
} from '../../test/harness';
import { createApp } from '../app';
import { createOpsPage, type OpsPage } from './ops-page';

jest.setTimeout(120_000);

const TOKEN = 'ops-token';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let t: TestDatabase;
let worker: TestWorker;
let runner: ProjectionRunner;
let changes: ChangeFeed;
let ops: OpsPage;
let server: Server;
let base: string;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  t = await createTestDatabase();
  await appendHistory(t.store, { orders: 3, products: 3 });
  worker = await startTestWorker(t.store, { compensationMaxAttempts: 2 });
  runner = new ProjectionRunner({
    databaseUrl: t.url,
    store: t.store,
    projections: allProjections,
    pollIntervalMs: 1000,
  });
  await runner.start();
  // A first saga loads the workflow bundle into the worker: the timing below is the page's.
  await worker.orders.start({
    orderId: 'ops-warm-up',
    customerId: 'customer-0',
    items: [{ productId: 'product-0', quantity: 1, unitPriceCents: 100 }],
  });
  await worker.orders.result('ops-warm-up');
  changes = createChangeFeed(t.url);
  ops = createOpsPage({
    readDb: t.db,
    orders: worker.orders,
    temporal: worker.client,
    taskQueue: worker.taskQueue,
    changes,
    apiToken: TOKEN,
    sagaUrl: (id) => `http://localhost:8233/namespaces/default/workflows/${id}`,
    visibilityRefreshMs: 300,
  });
  const app = createApp({
    readDb: t.db,
    store: t.store,
    orders: worker.orders,
    apiToken: TOKEN,
    routers: [['/ops', ops.router]],
  });
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
});

afterAll(async () => {
  await browser?.close();
  ops?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  await changes?.close();
  await runner?.stop();
  await worker?.stop();
  await t?.close();
});

const row = (orderId: string) => `tr[data-order-id="${orderId}"]`;

test('an order placed through the API appears with its status within 2 s, without a reload', async () => {
  // Without a token the page is refused; `?token=` once stores it in a cookie and redirects.
  expect((await request(base).get('/ops')).status).toBe(401);
  await page.goto(`${base}/ops?token=${TOKEN}`);
  expect(new URL(page.url()).search).toBe('');
  await page.waitForSelector('#live[data-live="open"]', { timeout: 10_000 });
  expect(await page.locator('[data-status-card="completed"] [data-count]').textContent()).toBe(
    String(
      (await t.pool.query(`SELECT count(*) AS n FROM read_models.orders WHERE status='completed'`))
        .rows[0].n,
    ),
  );
  // A marker that a reload would wipe out.
  await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));

  const placed = Date.now();
  await request(base)
    .post('/orders')
    .set('authorization', `Bearer ${TOKEN}`)
    .send({
      orderId: 'ops-live-1',
      customerId: 'customer-1',
      items: [{ productId: 'product-1', quantity: 2, unitPriceCents: 1234 }],
    })
    .expect(202);
  // It appears with the status the read model has (pending or already completed)...
  await page.waitForSelector(row('ops-live-1'), { timeout: 2000 });
  const appearedMs = Date.now() - placed;
  expect(['pending', 'completed']).toContain(
    await page.locator(row('ops-live-1')).getAttribute('data-status'),
  );
  // ...and shows completed within 2 s of the saga completing (its own latency is the saga's).
  await worker.orders.result('ops-live-1');
  const completed = Date.now();
  await page.waitForSelector(`${row('ops-live-1')}[data-status="completed"]`, { timeout: 2000 });
  process.stderr.write(
    `[ops page] order row appeared ${appearedMs} ms after the POST; shown completed ` +
      `${Date.now() - completed} ms after the saga completed\n`,
  );
  expect(await page.locator(`${row('ops-live-1')} .badge`).textContent()).toBe('completed');
  expect(await page.locator(`${row('ops-live-1')} a`).getAttribute('href')).toBe(
    'http://localhost:8233/namespaces/default/workflows/order-ops-live-1',
  );
  expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42);
  // Stock and projections are live too.
  expect(
    Number(await page.locator('tr[data-product-id="product-1"] [data-available]').textContent()),
  ).toBe(
    Number(
      (await request(base).get('/products/product-1').set('authorization', `Bearer ${TOKEN}`)).body
        .available,
    ),
  );
  expect(await page.locator('tr[data-projection]').count()).toBe(allProjections.length);

  if (process.env.OPS_SCREENSHOT)
    await page.screenshot({ path: process.env.OPS_SCREENSHOT, fullPage: true });
});

test('a saga in compensation_failed is listed, and its button sends retryCompensation', async () => {
  const product = 'product-stuck';
  await request(base)
    .post(`/products/${product}/restock`)
    .set('authorization', `Bearer ${TOKEN}`)
    .send({ quantity: 5 })
    .expect(200);
  await request(base)
    .post('/customers/customer-poor/credit')
    .set('authorization', `Bearer ${TOKEN}`)
    .send({ cents: 1 })
    .expect(200);
  // The release of this product fails until the trigger is dropped.
  const allowReleases = await refuseWrites(
    t.pool,
    'ReservationReleased',
    product,
    'release refused by the test',
  );
  // Declined payment: the saga compensates, and the release keeps failing.
  await worker.orders.start({
    orderId: 'ops-stuck-1',
    customerId: 'customer-poor',
    items: [{ productId: product, quantity: 1, unitPriceCents: 1000 }],
  });
  await page.waitForSelector('tr[data-saga-order-id="ops-stuck-1"]', { timeout: 30_000 });
  expect((await worker.orders.state('ops-stuck-1')).status).toBe('compensation_failed');

  // Without the token the button is refused, and the page says so.
  await page.fill('#token', '');
  await page.click('tr[data-saga-order-id="ops-stuck-1"] button');
  await page.waitForSelector('#flash:has-text("valid API token")', { timeout: 5000 });
  expect((await worker.orders.state('ops-stuck-1')).status).toBe('compensation_failed');

  await allowReleases();
  await page.fill('#token', TOKEN);
  await page.click('tr[data-saga-order-id="ops-stuck-1"] button');
  await page.waitForSelector('#flash:has-text("retryCompensation sent")', { timeout: 5000 });
  await expect(worker.orders.result('ops-stuck-1')).resolves.toMatchObject({
    status: 'cancelled',
  });
  await page.waitForSelector(`${row('ops-stuck-1')}[data-status="cancelled"]`, {
    timeout: 5000,
  });
  await page.waitForSelector('#no-compensation-failed', { timeout: 10_000 });
  await eventually(async () =>
    (
      await t.pool.query(
        `SELECT 1 FROM domain_events WHERE event_type='ReservationReleased'
       AND aggregate_id = $1`,
        [product],
      )
    ).rowCount === 1
      ? true
      : undefined,
  );
});
