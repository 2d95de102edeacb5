// Child process of tracing.int.test.ts (OpenTelemetry's instrumentations patch modules through
// Node's require, which Jest replaces): the worker, the Temporal client and the HTTP API of
// `npm start` with tracing on, one order placed with POST /orders, then the finished spans and
// the order's event rows printed as one JSON line.
// Usage: tsx observability/tracing.fixture.ts DATABASE_URL TEMPORAL_ADDRESS
import { exporter, tracing } from './tracing.fixture-preload';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createApp } from '../api/app';
import { grantCredit, restockProduct } from '../catalog/catalog';
import { createOrderClient } from '../client/order-client';
import { createDb, createEventStore, createPool } from '../eventstore';
import type { ProjectionDb } from '../projections';
import { createOrderWorker } from '../temporal/order-worker';
import { bundleOrderWorkflows } from '../temporal/workflow-bundle';

async function main(): Promise<void> {
  const [databaseUrl, temporalAddress] = process.argv.slice(2);
  if (!databaseUrl || !temporalAddress) throw new Error('usage: DATABASE_URL TEMPORAL_ADDRESS');
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const taskQueue = `tracing-${randomUUID()}`;
  const pool = createPool(databaseUrl, { applicationName: 'tracing-fixture' });
  const db = createDb<ProjectionDb>(pool);
  const store = createEventStore(db);
  await restockProduct(store, 'trace-product', 10);
  await grantCredit(store, 'trace-customer', 100_000);

  const nativeConnection = await NativeConnection.connect({ address: temporalAddress });
  // The build's traced bundle, made here as `npm run build` makes it: the workflow
  // interceptors come from the bundle (the plugin adds none to a pre-built one).
  const { code } = await bundleOrderWorkflows({ tracing: true });
  const worker = await createOrderWorker({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue,
    store,
    dbPoolMax: 10,
    workflowBundle: { code },
  });
  const running = worker.run();
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({
    connection,
    namespace: 'default',
    interceptors: tracing.clientInterceptors,
  });
  const orders = createOrderClient(client, {
    taskQueue,
    paymentConfirmationThresholdCents: 1_000_000,
    paymentConfirmationTimeoutMs: 10_000,
  });
  const server = createApp({ readDb: db, store, orders }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;

  const orderId = `trace-${randomUUID()}`;
  const res = await fetch(`http://127.0.0.1:${port}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-correlation-id': 'corr-traced-1' },
    body: JSON.stringify({
      orderId,
      customerId: 'trace-customer',
      items: [{ productId: 'trace-product', quantity: 2, unitPriceCents: 500 }],
    }),
  });
  if (res.status !== 202) throw new Error(`POST /orders answered ${res.status}`);
  const result = await orders.result(orderId);
  // The workflow's spans leave through a sink after its last activation.
  for (let i = 0; i < 100; i++) {
    await tracing.flush();
    if (exporter.getFinishedSpans().some((s) => s.name === 'RunWorkflow:orderSaga')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const spans = exporter.getFinishedSpans().map((s) => ({
    name: s.name,
    kind: s.kind,
    traceId: s.spanContext().traceId,
    spanId: s.spanContext().spanId,
    parentSpanId: s.parentSpanId,
    attributes: s.attributes,
  }));
  const { rows: events } = await pool.query<{ type: string; traceId: string | null }>(
    `SELECT event_type AS type, metadata->>'traceId' AS "traceId" FROM domain_events
     WHERE metadata->>'workflowId' = $1 ORDER BY global_position`,
    [`order-${orderId}`],
  );
  process.stdout.write(`${JSON.stringify({ orderId, result, spans, events })}\n`);

  server.close();
  worker.shutdown();
  await running;
  await connection.close();
  await nativeConnection.close();
  await pool.end();
  await tracing.shutdown();
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
