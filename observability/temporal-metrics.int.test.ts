// The Temporal SDK's Prometheus endpoint (Runtime telemetry options) and the
// order_sagas_compensation_failed gauge, against the real Temporal dev server and Postgres.
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { createOrderClient, type OrderClient } from '../client/order-client';
import { grantCredit, restockProduct } from '../catalog/catalog';
import { createTestDatabase, eventually, type TestDatabase } from '../test/harness';
import { createOrderWorker } from '../worker';
import {
  type CompensationFailedGauge,
  startCompensationFailedGauge,
} from './compensation-failed-gauge';
import { installTemporalRuntime } from './temporal-runtime';

jest.setTimeout(120_000);

let t: TestDatabase;
let worker: Worker;
let running: Promise<void>;
let nativeConnection: NativeConnection;
let connection: Connection;
let client: Client;
let orders: OrderClient;
let sdkMetricsUrl: string;
const taskQueue = `metrics-${randomUUID()}`;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  const port = await freePort();
  sdkMetricsUrl = `http://127.0.0.1:${port}/metrics`;
  installTemporalRuntime({ metricsAddress: `127.0.0.1:${port}` });
  t = await createTestDatabase();
  const address = process.env.TEST_TEMPORAL_ADDRESS!;
  nativeConnection = await NativeConnection.connect({ address });
  worker = await createOrderWorker({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue,
    store: t.store,
    workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! },
  });
  running = worker.run();
  connection = await Connection.connect({ address });
  client = new Client({ connection, namespace: 'default' });
  orders = createOrderClient(client, {
    taskQueue,
    paymentConfirmationThresholdCents: 100_000,
    paymentConfirmationTimeoutMs: 10_000,
    compensationMaxAttempts: 2,
  });
  await restockProduct(t.store, 'm-product', 10);
  await grantCredit(t.store, 'm-rich', 1_000_000);
  await grantCredit(t.store, 'm-poor', 1);
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
  await nativeConnection?.close();
  await t?.close();
});

async function sdkMetrics(): Promise<string> {
  const res = await fetch(sdkMetricsUrl);
  expect(res.status).toBe(200);
  return res.text();
}

/** Names of the metric families in a Prometheus text exposition. */
function metricNames(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]),
  );
}

test('the SDK serves schedule-to-start latency, slots, task latency and sticky cache metrics', async () => {
  await orders.start({
    orderId: 'm-ok',
    customerId: 'm-rich',
    items: [{ productId: 'm-product', quantity: 1, unitPriceCents: 100 }],
  });
  await expect(orders.result('m-ok')).resolves.toMatchObject({ status: 'completed' });
  const names = metricNames(await sdkMetrics());
  process.stderr.write(`[sdk metrics] ${[...names].sort().join(' ')}\n`);
  for (const name of [
    'temporal_workflow_task_schedule_to_start_latency_bucket',
    'temporal_activity_schedule_to_start_latency_bucket',
    'temporal_workflow_task_execution_latency_bucket',
    'temporal_worker_task_slots_available',
    'temporal_worker_task_slots_used',
    'temporal_sticky_cache_size',
    'temporal_sticky_cache_hit_total',
  ])
    expect(names).toContain(name);
  const text = await sdkMetrics();
  expect(text).toMatch(
    new RegExp(`temporal_worker_task_slots_available\\{[^}]*task_queue="${taskQueue}"`),
  );
});

test('order_sagas_compensation_failed counts the parked sagas, refreshed on a timer', async () => {
  const registry = new Registry();
  const gauge: CompensationFailedGauge = startCompensationFailedGauge(registry, client, {
    taskQueue,
    refreshMs: 200,
  });
  try {
    const value = async () =>
      (await registry.getSingleMetric('order_sagas_compensation_failed')!.get()).values[0]?.value;
    await eventually(async () => ((await value()) === 0 ? true : undefined));
    await t.pool.query(`
      CREATE FUNCTION refuse_release() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.event_type = 'ReservationReleased' THEN RAISE EXCEPTION 'refused by the test'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_release BEFORE INSERT ON domain_events
        FOR EACH ROW EXECUTE FUNCTION refuse_release();`);
    await orders.start({
      orderId: 'm-stuck',
      customerId: 'm-poor',
      items: [{ productId: 'm-product', quantity: 1, unitPriceCents: 1000 }],
    });
    await eventually(async () => ((await value()) === 1 ? true : undefined), 30_000, 'gauge = 1');
    await t.pool.query('DROP TRIGGER refuse_release ON domain_events');
    await orders.retryCompensation('m-stuck');
    await expect(orders.result('m-stuck')).resolves.toMatchObject({ status: 'cancelled' });
    await eventually(async () => ((await value()) === 0 ? true : undefined), 30_000, 'gauge = 0');
  } finally {
    gauge.stop();
  }
});
