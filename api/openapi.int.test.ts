// Real responses of every operation in /openapi.json, checked against the schema the document
// gives for their status (ajv, JSON Schema 2020-12, the dialect of OpenAPI 3.1). Every
// operation is exercised at least once, and the served document passes Redocly's lint.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type express from 'express';
import type { OpenAPIV3_1 } from 'openapi-types';
import request, { type Response } from 'supertest';
import { createChangeFeed, type ChangeFeed } from '../monitors/change-feed';
import { createMetrics } from '../observability/metrics';
import { registerProjectionGauges } from '../monitors/projection-gauges';
import { allProjections, ProjectionRunner } from '../projections';
import { appendHistory } from '../test/sample-history';
import {
  createTestDatabase,
  eventually,
  startTestWorker,
  type TestDatabase,
  type TestWorker,
} from '../test/harness';
import { redoclyLint } from '../test/redocly-lint';
import { createApp } from './app';
import { DataKeyRing } from '../keys/data-key-ring';
import { forgetCustomerWith } from '../keys/forget-customer';
import { localMasterKeys } from '../keys/master-key';
import { openApiDocument } from './openapi';
import { createOpsPage, type OpsPage } from './ops/ops-page';

jest.setTimeout(120_000);

const TOKEN = 'openapi-token';
const auth = { authorization: `Bearer ${TOKEN}` };
let t: TestDatabase;
let worker: TestWorker;
let runner: ProjectionRunner;
let app: express.Express;
let api: OpenAPIV3_1.Document;
let changes: ChangeFeed;
let ops: OpsPage;
const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
const exercised = new Set<string>();

beforeAll(async () => {
  t = await createTestDatabase();
  await appendHistory(t.store, { orders: 5 });
  const metrics = createMetrics({ defaultMetrics: false });
  registerProjectionGauges(metrics.registry, t.db);
  worker = await startTestWorker(t.store);
  runner = new ProjectionRunner({
    databaseUrl: t.url,
    store: t.store,
    projections: allProjections,
    pollIntervalMs: 200,
  });
  await runner.start();
  changes = createChangeFeed(t.url);
  ops = createOpsPage({
    readDb: t.db,
    orders: worker.orders,
    temporal: worker.client,
    taskQueue: worker.taskQueue,
    changes,
    apiToken: TOKEN,
  });
  app = createApp({
    readDb: t.db,
    store: t.store,
    orders: worker.orders,
    apiToken: TOKEN,
    metrics,
    routers: [['/ops', ops.router]],
  });
  api = (await SwaggerParser.dereference(
    structuredClone(openApiDocument()) as OpenAPIV3_1.Document,
  )) as OpenAPIV3_1.Document;
  await eventually(async () =>
    (await request(app).get('/orders/order-1').set(auth)).ok ? true : undefined,
  );
});

afterAll(async () => {
  ops?.close();
  await changes?.close();
  await runner?.stop();
  await worker?.stop();
  await t?.close();
});

/** Asserts that the response's status is documented for the operation and its body fits. */
function conforms(operationId: string, res: Response, expected: number | number[]): void {
  const statuses = [expected].flat();
  if (!statuses.includes(res.status))
    throw new Error(
      `${operationId}: status ${res.status}, expected ${statuses.join(' or ')}: ${res.text.slice(0, 300)}`,
    );
  const operation = Object.values(api.paths ?? {})
    .flatMap((item) => Object.values(item ?? {}) as OpenAPIV3_1.OperationObject[])
    .find((op) => op?.operationId === operationId);
  if (!operation) throw new Error(`no operation ${operationId} in the document`);
  const response = (operation.responses?.[String(res.status)] ??
    operation.responses?.[`${String(res.status)[0]}XX`]) as OpenAPIV3_1.ResponseObject | undefined;
  if (!response) throw new Error(`${operationId}: status ${res.status} is not documented`);
  const contentType = String(res.headers['content-type'] ?? '').split(';')[0]!;
  const media = response.content?.[contentType];
  if (response.content) {
    if (!media)
      throw new Error(`${operationId} ${res.status}: content type ${contentType} not documented`);
    const body: unknown = contentType.endsWith('json') ? res.body : res.text;
    const validate = ajv.compile(media.schema as object);
    if (!validate(body))
      throw new Error(
        `${operationId} ${res.status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`,
      );
  }
  exercised.add(operationId);
}

test('reads answer with the documented shapes', async () => {
  conforms('listOrders', await request(app).get('/orders?limit=3&status=completed').set(auth), 200);
  conforms('listOrders', await request(app).get('/orders?limit=x').set(auth), 400);
  conforms('getOrder', await request(app).get('/orders/order-1').set(auth), 200);
  conforms('getOrder', await request(app).get('/orders/no-such-order').set(auth), 404);
  conforms(
    'getOrder',
    await request(app).get('/orders/order-1?minVersion=999&waitMs=10').set(auth),
    409,
  );
  conforms('listOrderItems', await request(app).get('/orders/order-1/items').set(auth), 200);
  conforms(
    'listCustomerOrders',
    await request(app).get('/customers/customer-1/orders').set(auth),
    200,
  );
  conforms(
    'getCustomerCredit',
    await request(app).get('/customers/customer-1/credit').set(auth),
    200,
  );
  conforms('getCustomerCredit', await request(app).get('/customers/nobody/credit').set(auth), 404);
  conforms('getProductInventory', await request(app).get('/products/product-1').set(auth), 200);
  conforms('getProductInventory', await request(app).get('/products/bad%20id').set(auth), 400);
  conforms('getOrderStats', await request(app).get('/stats/orders').set(auth), 200);
  conforms('listProjections', await request(app).get('/projections').set(auth), 200);
  conforms('getHealth', await request(app).get('/health'), 200);
  conforms('getReadiness', await request(app).get('/ready'), 200);
  conforms('getMetrics', await request(app).get('/metrics'), 200);
});

test('the operations page, its event stream and its retry button', async () => {
  conforms('getOperationsPage', await request(app).get('/ops').set(auth), 200);
  const post = (headers: Record<string, string> = {}) =>
    request(app).post('/ops/orders/no-such-order/retry-compensation').set(headers);
  conforms('retryCompensation', await post(), 401);
  conforms('retryCompensation', await post(auth), 404);
  // An endless stream: read up to its first event, then hang up.
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const aborter = new AbortController();
    const res = await fetch(`http://127.0.0.1:${port}/ops/events`, {
      signal: aborter.signal,
      headers: auth,
    });
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: snapshot')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    aborter.abort();
    expect(text).toContain('data: ');
    conforms(
      'streamOperationsSnapshots',
      {
        status: res.status,
        headers: { 'content-type': res.headers.get('content-type') },
        text,
        body: {},
      } as unknown as Response,
      200,
    );
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('the served document is the linted one and passes Redocly', async () => {
  const res = await request(app).get('/openapi.json');
  conforms('getOpenApiDocument', res, 200);
  expect(res.body).toEqual(openApiDocument());
  expect(await redoclyLint(res.body as object)).toMatchObject({ errors: 0, warnings: 0 });
});

test('writes answer with the documented shapes', async () => {
  const order = {
    orderId: 'openapi-1',
    customerId: 'customer-1',
    items: [{ productId: 'product-1', quantity: 1, unitPriceCents: 250 }],
  };
  conforms('startOrder', await request(app).post('/orders').send(order), 401);
  conforms('startOrder', await request(app).post('/orders').set(auth).send({}), 400);
  conforms('startOrder', await request(app).post('/orders').set(auth).send(order), 202);
  conforms('getSagaState', await request(app).get('/orders/openapi-1/saga').set(auth), [200, 409]);
  await worker.orders.result('openapi-1');
  conforms(
    'addOrderItem',
    await request(app)
      .post('/orders/openapi-1/items')
      .set(auth)
      .send({ productId: 'product-2', quantity: 1, unitPriceCents: 1 }),
    409,
  );
  conforms('cancelOrder', await request(app).post('/orders/openapi-1/cancel').set(auth), 409);
  conforms(
    'confirmPayment',
    await request(app)
      .post('/orders/no-such-order/confirm-payment')
      .set(auth)
      .send({ amountCents: 250 }),
    404,
  );
  conforms(
    'confirmPayment',
    await request(app).post('/orders/openapi-1/confirm-payment').set(auth).send({}),
    400,
  );
  conforms(
    'skipCompensation',
    await request(app)
      .post('/orders/openapi-1/compensations/skip')
      .set(auth)
      .send({ compensation: 'release:product-1', reason: 'test' }),
    409,
  );

  // A saga above the payment threshold waits for the confirmation: it takes the signals.
  await request(app)
    .post('/orders')
    .set(auth)
    .send({
      ...order,
      orderId: 'openapi-2',
      items: [{ ...order.items[0], unitPriceCents: 200_000 }],
    })
    .expect(202);
  await eventually(async () =>
    (await worker.orders.state('openapi-2').catch(() => undefined))?.status ===
    'awaiting_payment_confirmation'
      ? true
      : undefined,
  );
  conforms('getSagaState', await request(app).get('/orders/openapi-2/saga').set(auth), 200);
  conforms(
    'addOrderItem',
    await request(app)
      .post('/orders/openapi-2/items')
      .set(auth)
      .send({ productId: 'product-2', quantity: 1, unitPriceCents: 1 }),
    [200, 409],
  );
  const { totalCents } = await worker.orders.state('openapi-2');
  conforms(
    'confirmPayment',
    await request(app)
      .post('/orders/openapi-2/confirm-payment')
      .set(auth)
      .send({ amountCents: totalCents + 1 }),
    409,
  );
  conforms(
    'confirmPayment',
    await request(app)
      .post('/orders/openapi-2/confirm-payment')
      .set(auth)
      .send({ amountCents: totalCents }),
    200,
  );
  await request(app)
    .post('/orders')
    .set(auth)
    .send({ ...order, orderId: 'openapi-3' })
    .expect(202);
  conforms(
    'cancelOrder',
    await request(app).post('/orders/openapi-3/cancel').set(auth).send({ reason: 'test' }),
    [200, 409],
  );

  conforms(
    'restockProduct',
    await request(app).post('/products/product-1/restock').set(auth).send({ quantity: 5 }),
    200,
  );
  conforms(
    'restockProduct',
    await request(app).post('/products/product-1/restock').set(auth).send({ quantity: 0 }),
    400,
  );
  conforms(
    'grantCredit',
    await request(app).post('/customers/customer-1/credit').set(auth).send({ cents: 100 }),
    200,
  );
  conforms(
    'grantCredit',
    await request(app)
      .post('/customers/customer-1/credit')
      .set(auth)
      .set('content-type', 'text/plain')
      .send('100'),
    415,
  );
  // Without a master key nothing is sealed per customer: the erasure is refused, not faked.
  conforms(
    'forgetCustomer',
    await request(app).post('/admin/customers/customer-9/forget').set(auth),
    409,
  );
  conforms('forgetCustomer', await request(app).post('/admin/customers/customer-9/forget'), 401);
  const ring = await DataKeyRing.open(t.db, localMasterKeys(randomBytes(32)));
  await ring.customerKey('customer-9', { create: true });
  const keyed = createApp({
    readDb: t.db,
    store: t.store,
    orders: worker.orders,
    apiToken: TOKEN,
    forgetCustomer: forgetCustomerWith(ring),
  });
  const forgotten = await request(keyed).post('/admin/customers/customer-9/forget').set(auth);
  conforms('forgetCustomer', forgotten, 200);
  expect(forgotten.body).toEqual({ customerId: 'customer-9', keysDestroyed: 1 });
  conforms(
    'forgetCustomer',
    await request(keyed).post('/admin/customers/bad%20id/forget').set(auth),
    400,
  );
});

test('every operation of the document was exercised above', () => {
  const all = Object.values((openApiDocument() as OpenAPIV3_1.Document).paths ?? {})
    .flatMap((item) => Object.values((item as Record<string, { operationId?: string }>) ?? {}))
    .map((op) => op.operationId);
  expect(all.filter((id) => id && !exercised.has(id))).toEqual([]);
});
